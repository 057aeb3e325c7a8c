import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRules, resume, step, type RuleState, type ThresholdRule } from '../../server/rules/index.ts';
import { T0, brief, drive, prng, rule, type Sample } from './helpers.ts';

const S = 1000;

/** 1 Hz samples of `ua` from `from` s to `to` s (exclusive) relative to T0. */
function hz(from: number, to: number, v: (s: number) => number): Sample[] {
  const out: Sample[] = [];
  for (let s = from; s < to; s++) out.push({ t: T0 + s * S, values: { ua: v(s) } });
  return out;
}

describe('threshold: deadband, on-delay, off-delay', () => {
  const r = rule<ThresholdRule>({
    id: 'ua-hi',
    kind: 'threshold',
    quantity: 'ua',
    levels: { hi: { value: 240, severity: 'medium' }, hihi: { value: 250, severity: 'high' } },
    deadband: 2,
    onDelayS: 10,
    offDelayS: 20,
  });

  it('raises after the on-delay, holds inside the deadband, clears after the off-delay, escalates and de-escalates', () => {
    const samples = [
      ...hz(0, 10, () => 230),
      ...hz(10, 30, () => 241), // beyond hi from 10 s → raise at 20 s
      ...hz(30, 40, () => 239), // below the limit but inside the 2 V deadband: still hi
      ...hz(40, 100, () => 237), // out of the deadband from 40 s → clear at 60 s
      ...hz(100, 121, () => 252), // beyond hi and hihi from 100 s → straight to hihi at 110 s
      ...hz(121, 161, () => 245), // left hihi (245 < 250 − 2) from 121 s → back to hi at 141 s
      ...hz(161, 200, () => 230), // left hi from 161 s → clear at 181 s
    ];
    const { events } = drive(r, samples);
    expect(brief(events)).toEqual([
      ['active', 'hi', 20 * S],
      ['inactive', 'hi', 60 * S],
      ['active', 'hihi', 110 * S],
      ['active', 'hi', 141 * S],
      ['inactive', 'hi', 181 * S],
    ]);
    expect(events.map((e) => e.severity)).toEqual([3, 3, 2, 3, 3]);
    expect(events[0]).toMatchObject({ value: 241, limit: 240, message: 'ua 241 V > hi limit 240 V for 10 s' });
  });

  it('an exceedance shorter than the on-delay never raises; a dip shorter than the off-delay never clears', () => {
    const { events } = drive(r, [...hz(0, 9, () => 245), ...hz(9, 20, () => 230), ...hz(20, 40, () => 245), ...hz(40, 55, () => 230), ...hz(55, 60, () => 245)]);
    expect(brief(events)).toEqual([['active', 'hi', 30 * S]]);
  });

  it('a value hovering around the limit for 10 minutes at 1 Hz with noise: one raise, and one clear after it settles', () => {
    // GB/T 12325 upper limit; the value swings ±1 V around it (slow wave) with ±1 V noise
    const hover = rule<ThresholdRule>({
      id: 'u-hover',
      kind: 'threshold',
      quantity: 'ua',
      levels: { hi: { value: 235.4 } },
      deadband: 2,
      onDelayS: 10,
      offDelayS: 30,
    });
    const rand = prng(12325);
    const wave = (s: number) => 235.4 + Math.sin((2 * Math.PI * s) / 120) + (rand() * 2 - 1);
    const samples = [...hz(0, 600, wave), ...hz(600, 720, () => 225 + (rand() * 2 - 1))];
    const crossings = samples.slice(1, 600).filter((x, i) => (x.values.ua! > 235.4) !== (samples[i]!.values.ua! > 235.4)).length;
    expect(crossings).toBeGreaterThan(100); // it really does hover
    const { events } = drive(hover, samples, { tickMs: S, until: T0 + 720 * S });
    expect(events.map((e) => e.to)).toEqual(['active', 'inactive']);
    expect(events[0]!.at - T0).toBeGreaterThanOrEqual(10 * S);
    expect(events[0]!.at - T0).toBeLessThan(60 * S);
    expect(events[1]!.at - T0).toBe(630 * S); // settled at 600 s + 30 s off-delay

    // the same feed without hysteresis: the flood the deadband and delays prevent
    const naive = rule<ThresholdRule>({ id: 'naive', kind: 'threshold', quantity: 'ua', levels: { hi: { value: 235.4 } } });
    const raises = drive(naive, samples).events.filter((e) => e.to === 'active').length;
    expect(raises).toBeGreaterThan(24);
  });

  it('several quantities: the worst phase counts', () => {
    const phases = rule<ThresholdRule>({ id: 'u3', kind: 'threshold', quantity: ['ua', 'ub', 'uc'], levels: { hi: { value: 240 }, lo: { value: 200 } } });
    const { events } = drive(phases, [
      { t: T0, values: { ua: 230, ub: 230, uc: 230 } },
      { t: T0 + S, values: { ua: 230, ub: 241, uc: 230 } },
      { t: T0 + 2 * S, values: { ua: 230, ub: 230, uc: 230 } },
      { t: T0 + 3 * S, values: { ua: 199, ub: 230, uc: 230 } },
    ]);
    expect(brief(events)).toEqual([
      ['active', 'hi', 1 * S],
      ['inactive', 'hi', 2 * S],
      ['active', 'lo', 3 * S],
    ]);
  });

  it('a reading redelivered (same ts), out of order, not good, or without the quantity changes nothing', () => {
    const fast = rule<ThresholdRule>({ id: 'f', kind: 'threshold', quantity: 'ua', levels: { hi: { value: 240 } } });
    const a = step(undefined, { ts: T0, values: { ua: 230 }, q: 'good' }, fast, T0);
    for (const input of [
      { ts: T0, values: { ua: 250 }, q: 'good' as const },
      { ts: T0 - S, values: { ua: 250 }, q: 'good' as const },
      { ts: T0 + S, values: { ua: 250 }, q: 'stale' as const },
      { ts: T0 + S, values: { ia: 250 }, q: 'good' as const },
    ]) {
      const b = step(a.state, input, fast, T0 + S);
      expect(b.transition).toBeUndefined();
      expect(b.state).toEqual(a.state);
    }
  });
});

describe('threshold on 1-minute means (GB/T 12325)', () => {
  const lo = rule<ThresholdRule>({ id: 'u-lo', kind: 'threshold', quantity: 'ua', evaluate: 'mean1m', levels: { lo: { value: 198 } }, deadband: 2 });

  it('a 2-second dip below 198 V does not fire', () => {
    const { events } = drive(lo, hz(0, 300, (s) => (s === 90 || s === 91 ? 150 : 220)), { tickMs: S, until: T0 + 400 * S });
    expect(events).toEqual([]);
    // the same feed evaluated instantly would have fired
    const instant = rule<ThresholdRule>({ id: 'u-lo-i', kind: 'threshold', quantity: 'ua', levels: { lo: { value: 198 } } });
    expect(brief(drive(instant, hz(0, 300, (s) => (s === 90 || s === 91 ? 150 : 220))).events)).toEqual([
      ['active', 'lo', 90 * S],
      ['inactive', 'lo', 92 * S],
    ]);
  });

  it('a sustained sag fires when its first full minute closes, and clears when the first normal minute closes', () => {
    const samples = hz(0, 420, (s) => (s >= 120 && s < 300 ? 190 : 220));
    const { events } = drive(lo, samples);
    expect(brief(events)).toEqual([
      ['active', 'lo', 180 * S], // minute [120 s, 180 s) closed by the reading at 180 s
      ['inactive', 'lo', 360 * S], // minute [300 s, 360 s) closed by the reading at 360 s
    ]);
    expect(events[0]).toMatchObject({ value: 190, message: 'ua 1-min mean 190 V < lo limit 198 V' });
  });

  it('when readings stop, tick closes the last minute after its end plus a grace', () => {
    const { events } = drive(lo, hz(0, 60, () => 190), { tickMs: S, until: T0 + 120 * S });
    expect(brief(events)).toEqual([['active', 'lo', 65 * S]]);
  });
});

describe('tick: delays expire without a new reading while the last value holds', () => {
  const r = rule<ThresholdRule>({ id: 'slow', kind: 'threshold', quantity: 'ua', levels: { hi: { value: 240 } }, onDelayS: 60, holdS: 120 });

  it('fires at the on-delay although the next reading is late', () => {
    const { events } = drive(r, [{ t: T0, values: { ua: 250 } }, { t: T0 + 30 * S, values: { ua: 250 } }], { tickMs: S, until: T0 + 200 * S });
    expect(brief(events)).toEqual([['active', 'hi', 60 * S]]);
  });

  it('does not fire on a value older than holdS', () => {
    const { events } = drive({ ...r, holdS: 20 }, [{ t: T0, values: { ua: 250 } }], { tickMs: S, until: T0 + 200 * S });
    expect(events).toEqual([]);
  });

  it('a gap in the readings longer than holdS restarts the on-delay', () => {
    const { events } = drive(r, [{ t: T0, values: { ua: 250 } }, { t: T0 + 150 * S, values: { ua: 250 } }, { t: T0 + 200 * S, values: { ua: 250 } }, { t: T0 + 210 * S, values: { ua: 250 } }]);
    expect(brief(events)).toEqual([['active', 'hi', 210 * S]]);
  });
});

describe('rule state survives a restart', () => {
  const rules = parseRules({});
  if (!rules.ok) throw new Error('defaults');
  const lowV = rules.rules.find((x) => x.id === 'u-low-sustained') as ThresholdRule; // below 198 V for over 1 h, on 1-min means

  it('JSON round trip mid on-delay: fires at the same moment as without it', () => {
    const samples = hz(0, 70 * 60, () => 190);
    const opts = { tickMs: S, until: T0 + 71 * 60 * S };
    const plain = drive(lowV, samples, opts);
    const tripped = drive(lowV, samples, { ...opts, roundTripAt: T0 + 50 * 60 * S + 500 });
    expect(brief(plain.events)).toEqual([['active', 'lo', 3600 * S]]);
    expect(tripped.events).toEqual(plain.events);
    expect(JSON.parse(JSON.stringify(tripped.state))).toEqual(plain.state);
  });

  it('a server down for 2 minutes during the on-delay: the alarm still fires on time', () => {
    const before = drive(lowV, hz(0, 50 * 60, () => 190), { tickMs: S });
    const persisted = JSON.stringify(before.state);
    // down from 50:00 to 52:00; the agent resends the gap as late readings, then live ones continue
    const restored = resume(JSON.parse(persisted) as RuleState, lowV, T0 + 52 * 60 * S);
    const backfill = drive(lowV, hz(50 * 60, 52 * 60, () => 190).map((x) => ({ ...x, late: true, now: T0 + 52 * 60 * S })), { state: restored });
    expect(backfill.events).toEqual([]);
    expect(backfill.state).toEqual(restored);
    const after = drive(lowV, hz(52 * 60, 65 * 60, () => 190), { state: backfill.state, tickMs: S });
    expect(brief(after.events)).toEqual([['active', 'lo', 3600 * S]]);
  });
});

describe('engine properties (fast-check)', () => {
  const rules = [
    rule<ThresholdRule>({ id: 'p1', kind: 'threshold', quantity: ['ua', 'ub'], levels: { hihi: { value: 250 }, hi: { value: 240 }, lo: { value: 200 } }, deadband: 2, onDelayS: 5, offDelayS: 7, holdS: 20 }),
    rule<ThresholdRule>({ id: 'p2', kind: 'threshold', quantity: 'ua', evaluate: 'mean1m', levels: { lo: { value: 215 } }, deadband: 1, onDelayS: 60, offDelayS: 30 }),
  ];
  const arbFeed = fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.float({ min: 180, max: 260, noNaN: true }), fc.boolean()), { minLength: 1, maxLength: 120 });
  const toSamples = (feed: [number, number, boolean][]) => {
    let t = T0;
    return feed.map(([dt, v, late]) => {
      t += dt * S;
      return { t, values: { ua: v, ub: 230 }, late };
    });
  };

  it('a JSON round trip of the state at any moment changes nothing', () => {
    fc.assert(
      fc.property(arbFeed, fc.integer({ min: 0, max: 4000 }), fc.constantFrom(...rules), (feed, cut, r) => {
        const samples = toSamples(feed);
        const opts = { tickMs: S, until: samples[samples.length - 1]!.t + 120 * S };
        const a = drive(r, samples, opts);
        const b = drive(r, samples, { ...opts, roundTripAt: T0 + cut * S });
        expect(b.events).toEqual(a.events);
      }),
      { numRuns: 200 },
    );
  });

  it('late readings anywhere in the feed change no transition', () => {
    fc.assert(
      fc.property(arbFeed, fc.constantFrom(...rules), (feed, r) => {
        const samples = toSamples(feed);
        const live = samples.filter((x) => !x.late);
        const opts = { tickMs: S, until: samples[samples.length - 1]!.t + 120 * S };
        expect(drive(r, samples, opts).events).toEqual(drive(r, live, opts).events);
      }),
      { numRuns: 200 },
    );
  });

  it('raises and clears alternate, never two raises at the same level in a row', () => {
    fc.assert(
      fc.property(arbFeed, fc.constantFrom(...rules), (feed, r) => {
        const { events } = drive(r, toSamples(feed), { tickMs: S });
        let level: string | null = null;
        for (const e of events) {
          if (e.to === 'active') expect(e.level).not.toBe(level);
          else expect(level).not.toBeNull();
          level = e.to === 'active' ? e.level : null;
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('threshold: timestamps ahead of the server clock', () => {
  const r = rule<ThresholdRule>({ id: 'ua-hi', kind: 'threshold', quantity: 'ua', levels: { hi: { value: 240 } } });
  const run = (readings: readonly { ts: number; ua: number; now: number }[]) => {
    let state: RuleState | undefined;
    const out: string[] = [];
    for (const x of readings) {
      const res = step(state, { ts: x.ts, values: { ua: x.ua }, q: 'good' }, r, x.now);
      state = res.state;
      if (res.transition) out.push(`${res.transition.to}@${res.transition.at - T0}`);
    }
    return out;
  };

  it('readings a few ms ahead, handled within one millisecond, each count in their own time (none taken for a redelivery)', () => {
    // an agent clock 1–3 ms ahead; three messages handled at the same server ms
    expect(run([
      { ts: T0 + 1, ua: 241, now: T0 },
      { ts: T0 + 2, ua: 230, now: T0 },
      { ts: T0 + 3, ua: 241, now: T0 },
      { ts: T0 + 3, ua: 230, now: T0 + 1 }, // a redelivery of the last: does not count
    ])).toEqual(['active@1', 'inactive@2', 'active@3']);
  });

  it('a bogus far-future stamp is taken as at most 2 s ahead: the real readings count again 2 s later', () => {
    const n = T0 + 10 * S;
    expect(run([
      { ts: n, ua: 230, now: n },
      { ts: n + 3600 * S, ua: 241, now: n }, // an hour ahead: evaluated at n + 2 s
      { ts: n + 1 * S, ua: 230, now: n + 1 * S }, // older than that: not counted
      { ts: n + 3 * S, ua: 230, now: n + 3 * S },
    ])).toEqual([`active@${10 * S + 2 * S}`, `inactive@${13 * S}`]);
  });
});
