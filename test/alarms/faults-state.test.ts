/**
 * Reconciling rule state with the alarm journal (server/alarms/state-store.ts),
 * per rule kind, on the real rules, states and alarm state machine: after a
 * crash either record may hold what the other lost, and after reconciling,
 * the next readings bring alarm and condition to what they say together.
 *  - journal ahead (alarm active, condition not in the state): readings back
 *    inside clear it, readings still beyond keep it without a second raise;
 *  - state ahead (condition active, no alarm): readings still beyond raise it.
 * Also: a late good reading restarts the comm-loss count and clears nothing.
 */
import { describe, expect, it } from 'vitest';
import type { Values } from '../../contract/index.ts';
import { applyOp, conditionActive, step, tick, toAlarmOp, type Alarm, type Rule, type RuleState } from '../../server/rules/index.ts';
import { reconcileStates } from '../../server/alarms/state-store.ts';
import { rule, T0 } from '../rules/helpers.ts';

const S = 1000;
const SRC = 'm1';

/** Readings of `values` every second from `from` for `n` s, ticking between; the condition transitions. */
function feed(r: Rule, state: RuleState | undefined, values: Values, from: number, n: number): { state: RuleState | undefined; to: string[] } {
  const to: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = from + i * S;
    const res = step(state, { ts: t, values, q: 'good' }, r, t);
    state = res.state;
    if (res.transition) to.push(res.transition.to);
    const k = tick(state, r, t + S / 2);
    state = k.state;
    if (k.transition) to.push(k.transition.to);
  }
  return { state, to };
}

function activeAlarm(ruleId: string, level: string, at: number): Alarm {
  const r = applyOp(undefined, { op: 'raise', alarmId: `${ruleId}:${SRC}`, severity: 2, level, message: 'x' }, at);
  if (!r.ok || !r.alarm) throw new Error('raise refused');
  return r.alarm;
}

const noPresence = () => false;

// [rule, values inside, values beyond, the level they raise]
const KINDS: [Rule, Values, Values, string][] = [
  [rule({ id: 'th', kind: 'threshold', quantity: 'ia', levels: { hi: { value: 170 } }, offDelayS: 2 }), { ia: 50 }, { ia: 200 }, 'hi'],
  [rule({ id: 'roc', kind: 'rate_of_change', quantity: 'p', change: { abs: 10 }, windowS: 5, offDelayS: 2 }), { p: 10 }, { p: 100 }, 'rise'],
  [rule({ id: 'ub', kind: 'unbalance', offDelayS: 2 }), { u_unbalance: 1 }, { u_unbalance: 10 }, 'short_time'],
  [rule({ id: 'an', kind: 'anomaly', quantity: 'p', minDays: 0, minSamples: 1, minStd: 1, offDelayS: 2 }), { p: 10 }, { p: 1000 }, 'high'],
];

describe('reconciling rule state with the journal', () => {
  for (const [r, inside, beyond, level] of KINDS) {
    it(`${r.kind}: journal ahead → assumed, cleared by readings back inside, kept by readings beyond`, () => {
      const warm = feed(r, undefined, inside, T0, 10).state!;
      expect(conditionActive(warm)).toBe(false);
      for (const [values, expected] of [
        [inside, ['inactive']],
        [beyond, []],
      ] as const) {
        const states = new Map([[r.id, new Map([[SRC, structuredClone(warm)]])]]);
        const alarms = new Map([[`${r.id}:${SRC}`, activeAlarm(r.id, level, T0 + 10 * S)]]);
        const fixes = reconcileStates(alarms, states, [r], noPresence, T0 + 11 * S);
        expect(fixes).toEqual([{ ruleId: r.id, source: SRC, fix: 'assumed' }]);
        expect(conditionActive(states.get(r.id)!.get(SRC)!)).toBe(true);
        // anomaly: readings far beyond for long enough would become the usual; a few seconds do not
        const after = feed(r, states.get(r.id)!.get(SRC), values, T0 + 12 * S, 5);
        expect(after.to).toEqual(expected);
      }
    });

    it(`${r.kind}: state ahead → dropped, raised again by readings still beyond`, () => {
      let st = feed(r, undefined, inside, T0, 10).state;
      const raised = feed(r, st, beyond, T0 + 10 * S, 2);
      st = raised.state;
      expect(raised.to).toEqual(['active']);
      const states = new Map([[r.id, new Map([[SRC, st!]])]]);
      const fixes = reconcileStates(new Map(), states, [r], noPresence, T0 + 12 * S);
      expect(fixes).toEqual([{ ruleId: r.id, source: SRC, fix: 'dropped' }]);
      expect(feed(r, states.get(r.id)!.get(SRC), beyond, T0 + 12 * S, 2).to).toEqual(['active']);
    });
  }

  it('a journaled alarm without any saved state (file lost): assumed from a fresh state, cleared by readings back inside', () => {
    const [r, inside] = KINDS[0]!;
    const states = new Map<string, Map<string, RuleState>>();
    const alarms = new Map([[`th:${SRC}`, activeAlarm('th', 'hi', T0)]]);
    expect(reconcileStates(alarms, states, [r], noPresence, T0)).toEqual([{ ruleId: 'th', source: SRC, fix: 'assumed' }]);
    expect(feed(r, states.get('th')!.get(SRC), inside, T0 + S, 5).to).toEqual(['inactive']);
  });

  it('a level the rule no longer has: the next reading clears the alarm', () => {
    const [r, inside] = KINDS[0]!;
    const states = new Map<string, Map<string, RuleState>>();
    const alarms = new Map([[`th:${SRC}`, activeAlarm('th', 'hihi', T0)]]);
    reconcileStates(alarms, states, [r], noPresence, T0);
    expect(feed(r, states.get('th')!.get(SRC), inside, T0 + S, 1).to).toEqual(['inactive']);
  });

  it('stale: journal ahead → active until a good reading; state ahead → silence counted from now', () => {
    const r = rule({ id: 'cl', kind: 'stale', afterS: 3 });
    const states = new Map([[r.id, new Map<string, RuleState>([[SRC, step(undefined, { ts: T0, values: { ua: 230 }, q: 'good' }, r, T0).state]])]]);
    const alarms = new Map([[`cl:${SRC}`, activeAlarm('cl', 'stale', T0)]]);
    expect(reconcileStates(alarms, states, [r], noPresence, T0 + S)).toEqual([{ ruleId: 'cl', source: SRC, fix: 'assumed' }]);
    expect(step(states.get('cl')!.get(SRC), { ts: T0 + 2 * S, values: { ua: 230 }, q: 'good' }, r, T0 + 2 * S).transition?.to).toBe('inactive');

    const stale = tick(states.get('cl')!.get(SRC), r, T0 + 100 * S).state;
    const ahead = new Map([[r.id, new Map([[SRC, { ...stale, active: true } as RuleState]])]]);
    expect(reconcileStates(new Map(), ahead, [r], noPresence, T0 + 200 * S)).toEqual([{ ruleId: 'cl', source: SRC, fix: 'dropped' }]);
    expect(tick(ahead.get('cl')!.get(SRC), r, T0 + 202 * S).transition).toBeUndefined();
    expect(tick(ahead.get('cl')!.get(SRC), r, T0 + 203 * S).transition?.to).toBe('active');
  });

  it('stale: agent and broker alarms follow presence and are left alone', () => {
    const r = rule({ id: 'cl', kind: 'stale', afterS: 3 });
    const agent = applyOp(undefined, { op: 'raise', alarmId: 'cl:agent-1', severity: 3, level: 'agent_offline' }, T0);
    const states = new Map<string, Map<string, RuleState>>();
    const fixes = reconcileStates(new Map([['cl:agent-1', agent.ok ? agent.alarm! : ({} as Alarm)]]), states, [r], (_r, s) => s === 'agent-1', T0);
    expect(fixes).toEqual([]);
    expect(states.get('cl')!.size).toBe(0);
  });

  it('call: journal ahead → active until its time is up from the alarm; state ahead → dropped', () => {
    const r = rule({ id: 'call', kind: 'call', activeS: 10 });
    const states = new Map<string, Map<string, RuleState>>();
    const alarms = new Map([[`call:${SRC}`, activeAlarm('call', 'call', T0)]]);
    reconcileStates(alarms, states, [r], noPresence, T0 + 5 * S);
    expect(tick(states.get('call')!.get(SRC), r, T0 + 9 * S).transition).toBeUndefined();
    expect(tick(states.get('call')!.get(SRC), r, T0 + 10 * S).transition?.to).toBe('inactive');
    const pressed = step(undefined, { ts: T0, values: {}, q: 'good' }, r, T0).state;
    const ahead = new Map([[r.id, new Map([[SRC, pressed]])]]);
    expect(reconcileStates(new Map(), ahead, [r], noPresence, T0 + S)).toEqual([{ ruleId: 'call', source: SRC, fix: 'dropped' }]);
  });

  it('outage: the meters a transformer outage names are dark, a dark meter without an outage alarm is not', () => {
    const r = rule({ id: 'out', kind: 'outage' });
    const live = feed(r, undefined, { ua: 230, ub: 230, uc: 230 }, T0, 3).state!;
    const dark = feed(r, undefined, { ua: 0, ub: 0, uc: 0 }, T0, 5).state!;
    expect(conditionActive(dark)).toBe(true);
    const states = new Map([[r.id, new Map<string, RuleState>([['m1', structuredClone(live)], ['m2', structuredClone(live)], ['m3', dark]])]]);
    const tx = applyOp(undefined, { op: 'raise', alarmId: 'out:s1/t1', severity: 1, level: 'dark', detail: { scope: 'transformer', meters: ['m1', 'm2'] } }, T0);
    if (!tx.ok) throw new Error('refused');
    const fixes = reconcileStates(new Map([['out:s1/t1', tx.alarm!]]), states, [r], noPresence, T0 + 5 * S);
    expect(fixes.map((f) => `${f.fix} ${f.source}`).sort()).toEqual(['assumed m1', 'assumed m2', 'dropped m3']);
    expect([...states.get('out')!.values()].map(conditionActive)).toEqual([true, true, false]);
  });
});

describe('comm-loss and late readings', () => {
  const r = rule({ id: 'cl', kind: 'stale', afterS: 3 });
  it('a late good reading restarts the silence count; it clears nothing; a late comm_loss reading counts nothing', () => {
    let st = step(undefined, { ts: T0, values: { ua: 230 }, q: 'good' }, r, T0).state;
    st = step(st, { ts: T0 - 60 * S, values: { ua: 230 }, q: 'good', late: true }, r, T0 + 2 * S).state;
    expect(tick(st, r, T0 + 4 * S).transition).toBeUndefined(); // 3 s after the live reading, 2 s after the late one
    expect(tick(st, r, T0 + 5 * S).transition?.to).toBe('active');
    const commLoss = step(st, { ts: T0, values: {}, q: 'comm_loss', late: true }, r, T0 + 4 * S);
    expect(commLoss.state).toBe(st);
    const active = tick(st, r, T0 + 5 * S).state;
    const late = step(active, { ts: T0 + 4 * S, values: { ua: 230 }, q: 'good', late: true }, r, T0 + 6 * S);
    expect(late.transition).toBeUndefined();
    expect(conditionActive(late.state)).toBe(true);
    expect(toAlarmOp('cl', SRC, step(late.state, { ts: T0 + 6 * S, values: { ua: 230 }, q: 'good' }, r, T0 + 6 * S).transition!).op).toBe('clear');
  });
});
