import { describe, expect, it } from 'vitest';
import {
  callInput,
  resume,
  step,
  tick,
  type CallRule,
  type Rule,
  type RuleInput,
  type RuleState,
  type StaleRule,
} from '../../server/rules/index.ts';
import { T0, brief, drive, rule, type Sample } from './helpers.ts';
import type { Values } from '../../contract/index.ts';

const S = 1000;

function series(from: number, to: number, v: (s: number) => Values): Sample[] {
  const out: Sample[] = [];
  for (let s = from; s < to; s++) out.push({ t: T0 + s * S, values: v(s) });
  return out;
}

describe('rate of change', () => {
  it('a load jump of more than 30 points within 60 s: raised at the jump, cleared when it leaves the window', () => {
    const r = rule({ id: 'jump', kind: 'rate_of_change', quantity: 'load_rate', windowS: 60, change: { abs: 30 }, severity: 'high' });
    const { events } = drive(
      r,
      series(0, 420, (s) => ({ load_rate: s < 120 ? 40 : s < 300 ? 75 : 30 })),
    );
    expect(brief(events)).toEqual([
      ['active', 'rise', 120 * S],
      ['inactive', 'rise', 180 * S], // the window (60 s, in 3-s slots) no longer holds the 40 %
      ['active', 'fall', 300 * S],
      ['inactive', 'fall', 360 * S],
    ]);
    expect(events[0]).toMatchObject({ severity: 2, message: 'load_rate rose by more than 30% within 60 s (now 75%)' });
  });

  it('a slow ramp of the same size does not fire', () => {
    const r = rule({ id: 'jump', kind: 'rate_of_change', quantity: 'load_rate', windowS: 60, change: { abs: 30 } });
    expect(drive(r, series(0, 600, (s) => ({ load_rate: 40 + s * 0.1 }))).events).toEqual([]);
  });

  it('with pct and abs both given, both must be exceeded', () => {
    const r = rule({ id: 'ia-jump', kind: 'rate_of_change', quantity: 'ia', windowS: 10, change: { pct: 50, abs: 10 }, direction: 'rise' });
    // 10 A → 16 A: +60 % but only 6 A
    expect(drive(r, series(0, 30, (s) => ({ ia: s < 15 ? 10 : 16 }))).events).toEqual([]);
    // 100 A → 160 A: +60 % and 60 A
    expect(brief(drive(r, series(0, 30, (s) => ({ ia: s < 15 ? 100 : 160 }))).events)).toEqual([
      ['active', 'rise', 15 * S],
      ['inactive', 'rise', 25 * S],
    ]);
  });
});

describe('stale data / communication loss', () => {
  const r = rule<StaleRule>({ id: 'comm', kind: 'stale', afterS: 10 });

  it('no good reading for afterS → active; a good reading → inactive; comm_loss readings do not count as good', () => {
    const samples: Sample[] = [
      ...series(0, 6, () => ({ ua: 220 })),
      { t: T0 + 30 * S, values: { ua: 220 } },
      ...series(31, 45, () => ({})).map((x) => ({ ...x, q: 'comm_loss' as const })),
      { t: T0 + 30 * S, values: { ua: 220 }, late: true, now: T0 + 46 * S }, // backfill does not prove the meter is alive
      { t: T0 + 61 * S, values: { ua: 220 } },
    ];
    const { events } = drive(r, samples, { tickMs: S, until: T0 + 62 * S });
    expect(brief(events)).toEqual([
      ['active', 'stale', 15 * S], // last good at 5 s
      ['inactive', 'stale', 30 * S],
      ['active', 'stale', 40 * S], // last good at 30 s; the comm_loss reading at 40 s raises it
      ['inactive', 'stale', 61 * S],
    ]);
    expect(events[2]!.message).toBe('no good reading for 10 s (agent reports the meter does not answer)');
  });

  it('a meter that never reports becomes stale, counted from when the server first looked', () => {
    let state: RuleState | undefined;
    const seen: string[] = [];
    for (let s = 0; s <= 12; s++) {
      const res = tick(state, r, T0 + s * S);
      state = res.state;
      if (res.transition) seen.push(`${res.transition.to}@${s}: ${res.transition.message}`);
    }
    expect(seen).toEqual(['active@10: no good reading for 10 s (never seen)']);
  });

  it('intervals × pollIntervalS when afterS is not given', () => {
    const r2 = rule<StaleRule>({ id: 'comm2', kind: 'stale', intervals: 3, pollIntervalS: 5 });
    const { events } = drive(r2, [{ t: T0, values: { ua: 1 } }], { tickMs: S, until: T0 + 20 * S });
    expect(brief(events)).toEqual([['active', 'stale', 15 * S]]);
  });

  it('the time the server was down is not silence: resume restarts the count', () => {
    const before = drive(r, [{ t: T0, values: { ua: 220 } }]).state!;
    const back = T0 + 3600 * S;
    let state = resume(JSON.parse(JSON.stringify(before)) as RuleState, r, back);
    const seen: number[] = [];
    for (let s = 0; s <= 12; s++) {
      const res = tick(state, r, back + s * S);
      state = res.state;
      if (res.transition) seen.push(s);
    }
    expect(seen).toEqual([10]);
  });
});

describe('unbalance (GB/T 15543)', () => {
  const r = rule({
    id: 'u-unb',
    kind: 'unbalance',
    quantity: 'u_unbalance',
    normal: { limitPct: 2, meanS: 600, severity: 'low' },
    shortTime: { limitPct: 4, severity: 'medium' },
    deadband: 0.2,
    onDelayS: 3,
    offDelayS: 60,
  });

  it('2 % on 10-min means, 4 % short-time: exact transitions', () => {
    const { events } = drive(
      r,
      series(0, 1900, (s) => ({ u_unbalance: s < 700 ? 2.5 : s < 710 ? 5 : s < 1200 ? 2.5 : 1 })),
    );
    expect(brief(events)).toEqual([
      ['active', 'normal', 600 * S], // the 10-min value [0, 600 s) is 2.5 %
      ['active', 'short_time', 703 * S], // 5 % for 3 s
      ['active', 'normal', 770 * S], // short-time gone for the 60-s off-delay; the 10-min value is still over 2 %
      ['inactive', 'normal', 1800 * S], // the 10-min value [1200 s, 1800 s) is 1 %
    ]);
    expect(events.map((e) => e.severity)).toEqual([4, 3, 4, 4]);
  });

  it('short spikes above 2 % that keep the 10-min value under it do not fire', () => {
    const { events } = drive(r, series(0, 1300, (s) => ({ u_unbalance: s % 100 < 10 ? 3.5 : 1.5 })), { tickMs: S, until: T0 + 1400 * S });
    expect(events).toEqual([]);
  });
});

describe('one-key call', () => {
  const r = rule<CallRule>({ id: 'call', kind: 'call', activeS: 300 });

  it('raises at once with severity 1, ignores a redelivery, stays active activeS after the last press', () => {
    const events = [];
    let res = step(undefined, callInput(T0), r, T0);
    events.push(res.transition);
    res = step(res.state, callInput(T0), r, T0 + 50); // MQTT redelivery
    events.push(res.transition);
    res = step(res.state, callInput(T0 + 100 * S), r, T0 + 100 * S); // pressed again
    events.push(res.transition);
    res = tick(res.state, r, T0 + 399 * S);
    events.push(res.transition);
    res = tick(res.state, r, T0 + 400 * S);
    events.push(res.transition);
    expect(events.map((e) => e && `${e.to} ${e.level} ${e.severity} @${(e.at - T0) / S}`)).toEqual([
      'active call 1 @0',
      undefined,
      undefined,
      undefined,
      'inactive call 1 @400',
    ]);
  });
});

describe('late (backfilled) readings never raise or clear', () => {
  // [rule, warm-up values, the values that raise it when live]
  const kinds: [Rule, Values, Values][] = [
    [rule({ id: 'th', kind: 'threshold', quantity: 'ua', levels: { hi: { value: 240 } } }), { ua: 230 }, { ua: 300 }],
    [rule({ id: 'roc', kind: 'rate_of_change', quantity: 'p', change: { abs: 1 } }), { p: 10 }, { p: 100 }],
    [rule({ id: 'ub', kind: 'unbalance' }), { u_unbalance: 1 }, { u_unbalance: 10 }],
    [rule({ id: 'an', kind: 'anomaly', quantity: 'p', minDays: 0, minSamples: 1, minStd: 1 }), { p: 10 }, { p: 1000 }],
    [rule({ id: 'out', kind: 'outage', commLossIsDark: true }), { ua: 220, ub: 220, uc: 220 }, { ua: 0, ub: 0, uc: 0 }],
    [rule({ id: 'st', kind: 'stale', afterS: 1 }), { ua: 220 }, {}],
  ];
  for (const [r, normal, extreme] of kinds) {
    it(`${r.kind} (${r.id})`, () => {
      let state = step(undefined, { ts: T0, values: normal, q: 'good' }, r, T0).state;
      state = step(state, { ts: T0 + S, values: normal, q: 'good' }, r, T0 + S).state;
      const q = Object.keys(extreme).length ? 'good' : 'comm_loss';
      // control: the same reading, live, raises
      expect(step(state, { ts: T0 + 2 * S, values: extreme, q }, r, T0 + 2 * S + 5 * S).transition?.to).toBe('active');
      for (const late of [
        { ts: T0 + 2 * S, values: extreme, q, late: true },
        { ts: T0 + 2 * S, values: {}, q: 'comm_loss', late: true },
      ] satisfies RuleInput[]) {
        const res = step(state, late, r, T0 + 100 * S);
        expect(res.transition).toBeUndefined();
        expect(res.state).toBe(state);
      }
    });
  }

  it('call: a late call does not raise', () => {
    const r = rule({ id: 'call', kind: 'call' });
    expect(step(undefined, callInput(T0, true), r, T0 + S).transition).toBeUndefined();
    expect(step(undefined, callInput(T0), r, T0 + S).transition?.to).toBe('active');
  });

  it('an active alarm is not cleared by a late normal reading', () => {
    const r = rule({ id: 'th', kind: 'threshold', quantity: 'ua', levels: { hi: { value: 240 } } });
    const raised = step(undefined, { ts: T0, values: { ua: 250 }, q: 'good' }, r, T0);
    expect(raised.transition?.to).toBe('active');
    const late = step(raised.state, { ts: T0 + S, values: { ua: 220 }, q: 'good', late: true }, r, T0 + S);
    expect(late.transition).toBeUndefined();
    const live = step(late.state, { ts: T0 + 2 * S, values: { ua: 220 }, q: 'good' }, r, T0 + 2 * S);
    expect(live.transition?.to).toBe('inactive');
  });
});

describe('rule edited or disabled at runtime', () => {
  it('disabling a rule with an active condition clears it once', () => {
    const r = rule({ id: 'th', kind: 'threshold', quantity: 'ua', levels: { hi: { value: 240 } } });
    const raised = step(undefined, { ts: T0, values: { ua: 250 }, q: 'good' }, r, T0);
    const off = { ...r, enabled: false } as Rule;
    const a = tick(raised.state, off, T0 + S);
    expect(a.transition).toMatchObject({ to: 'inactive', level: 'hi', message: 'rule disabled' });
    expect(tick(a.state, off, T0 + 2 * S).transition).toBeUndefined();
  });

  it('a level removed from the rule ends that condition', () => {
    const r = rule({ id: 'th', kind: 'threshold', quantity: 'ua', levels: { hi: { value: 240 }, lo: { value: 200 } } });
    const raised = step(undefined, { ts: T0, values: { ua: 250 }, q: 'good' }, r, T0);
    const edited = rule({ id: 'th', kind: 'threshold', quantity: 'ua', levels: { lo: { value: 200 } } });
    expect(step(raised.state, { ts: T0 + S, values: { ua: 250 }, q: 'good' }, edited, T0 + S).transition).toMatchObject({ to: 'inactive', level: 'hi' });
  });
});
