/**
 * stepOwned is step with the state given up: it may update the state's own
 * objects in place. Driven with random feeds (fast-check) against every rule
 * kind, it must give the same transitions and equal states after every
 * reading and tick as the pure step, and the pure step must never touch the
 * state it was given.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Quality, Values } from '../../contract/index.ts';
import { DEFAULT_RULES, parseRules, step, stepOwned, tick, type Rule, type RuleState, type StepResult } from '../../server/rules/index.ts';
import { T0, rule } from './helpers.ts';

const S = 1000;

/** Rules with short delays and intervals, so random feeds of a few hundred readings cross every path. */
const RULES: Rule[] = [
  rule({ id: 'th', kind: 'threshold', quantity: ['ia', 'ib', 'ic'], levels: { hihi: { value: 600 }, hi: { value: 500 }, lo: { value: 50 }, lolo: { value: 10 } }, deadband: 5, onDelayS: 2, offDelayS: 3, holdS: 10 }),
  rule({ id: 'mean', kind: 'threshold', quantity: ['ua', 'ub', 'uc'], evaluate: 'mean1m', levels: { hi: { value: 235 }, lo: { value: 205 } }, deadband: 2, onDelayS: 0, offDelayS: 60 }),
  rule({ id: 'unb', kind: 'unbalance', quantity: 'u_unbalance', normal: { limitPct: 2, meanS: 30, severity: 'low' }, shortTime: { limitPct: 4, severity: 'medium' }, deadband: 0.2, onDelayS: 2, offDelayS: 5 }),
  rule({ id: 'roc', kind: 'rate_of_change', quantity: 'p', change: { pct: 20 }, windowS: 20, onDelayS: 1, offDelayS: 2 }),
  rule({ id: 'anom', kind: 'anomaly', quantity: 'p', bucketMinutes: 5, zLimit: 2, zDeadband: 0.5, minDays: 0, minSamples: 5, minStd: 1, onDelayS: 2, offDelayS: 4 }),
  rule({ id: 'dark', kind: 'outage', phases: ['ua', 'ub', 'uc'], darkBelowV: 22, deadband: 10, onDelayS: 2, offDelayS: 3, commLossIsDark: true }),
  rule({ id: 'stale', kind: 'stale', intervals: 3, pollIntervalS: 1 }),
  rule({ id: 'short-call', kind: 'call', activeS: 5 }),
  rule({ id: 'vloss', kind: 'voltage_loss', onDelayS: 2, offDelayS: 3, holdS: 10 }),
  rule({ id: 'iloss', kind: 'current_loss', basicCurrentA: 100, onDelayS: 2, offDelayS: 1, holdS: 10 }),
  rule({ id: 'rev', kind: 'reverse_flow', onDelayS: 2, offDelayS: 2 }),
  rule({ id: 'stuck', kind: 'counter_stuck', minKwh: 0.05, holdS: 10 }),
  rule({ id: 'back', kind: 'counter_backwards', offDelayS: 5 }),
  rule({ id: 'door', kind: 'off_hours', hours: { start: '08:00', end: '08:01' }, onDelayS: 1, offDelayS: 2 }),
  ...(() => {
    const r = parseRules({ useDefaults: true, rules: [] });
    if (!r.ok) throw new Error('defaults do not parse');
    return r.rules;
  })(),
];

type Op =
  | { op: 'reading'; dt: number; lag: number; q: Quality; late: boolean; values: Values }
  | { op: 'tick'; dt: number }
  | { op: 'roundtrip' };

const volts = fc.oneof(fc.double({ min: 195, max: 245, noNaN: true }), fc.constantFrom(0, 5, 30, 220));
const arbValues: fc.Arbitrary<Values> = fc.record({
  ua: volts,
  ub: volts,
  uc: volts,
  ia: fc.oneof(fc.double({ min: 0, max: 700, noNaN: true }), fc.constant(480), fc.constant(0)),
  ib: fc.double({ min: 0, max: 700, noNaN: true }),
  ic: fc.double({ min: 0, max: 700, noNaN: true }),
  p: fc.oneof(fc.double({ min: 50, max: 150, noNaN: true }), fc.double({ min: 0, max: 1000, noNaN: true })),
  u_unbalance: fc.double({ min: 0, max: 6, noNaN: true }),
  load_rate: fc.double({ min: 0, max: 130, noNaN: true }),
  f: fc.double({ min: 49.6, max: 50.4, noNaN: true }),
  lost_readings: fc.integer({ min: 0, max: 3 }),
  pa: fc.double({ min: -2, max: 2, noNaN: true }),
  ep_imp: fc.oneof(fc.constant(100), fc.double({ min: 99, max: 101, noNaN: true })),
  ep_exp: fc.constantFrom(5, 5, 4.9),
  door: fc.constantFrom(0, 1),
}, { requiredKeys: ['ua', 'ia', 'p'] }) as fc.Arbitrary<Values>;

/** time steps: mostly a poll interval, sometimes a repeat, a step back, a gap or a day */
const arbDt = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 3 }).map((n) => n * S) },
  { weight: 1, arbitrary: fc.constantFrom(0, -2 * S) },
  { weight: 1, arbitrary: fc.integer({ min: 10, max: 4000 }).map((n) => n * S) },
  { weight: 1, arbitrary: fc.constant(86_400 * S) },
);

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant('reading' as const),
      dt: arbDt,
      lag: fc.constantFrom(0, 0, 50, 5 * S, -3 * S),
      q: fc.constantFrom<Quality>('good', 'good', 'good', 'good', 'good', 'comm_loss', 'stale'),
      late: fc.constantFrom(false, false, false, false, true),
      values: arbValues,
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 90 }).map((n) => n * S) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'roundtrip' as const }) },
);

/** JSON copy: what a state is, compared by value (and what persistence writes) */
const copy = (s: RuleState | undefined): RuleState | undefined => (s === undefined ? undefined : (JSON.parse(JSON.stringify(s)) as RuleState));

function run(r: Rule, ops: readonly Op[]): void {
  let pure: RuleState | undefined;
  let owned: RuleState | undefined;
  let t = T0;
  for (const o of ops) {
    let a: StepResult;
    let b: StepResult;
    if (o.op === 'roundtrip') {
      // a state loaded from disk is owned too: from then on both go on from equal copies
      pure = copy(pure);
      owned = copy(owned);
      continue;
    }
    t += o.dt;
    if (o.op === 'tick') {
      a = tick(pure, r, t);
      b = tick(owned, r, t);
    } else {
      const input = { ts: t, values: o.values, q: o.q, ...(o.late ? { late: true } : {}) };
      const before = copy(pure);
      a = step(pure, input, r, t + o.lag);
      // the pure step leaves what it was given as it was
      expect(copy(pure)).toEqual(before);
      b = stepOwned(owned, input, r, t + o.lag);
    }
    expect(b.transition).toEqual(a.transition);
    expect(copy(b.state)).toEqual(copy(a.state));
    pure = a.state;
    owned = b.state;
  }
}

describe('stepOwned', () => {
  it.each(RULES.map((r) => [r.id, r] as const))('%s: the same transitions and states as step, reading by reading', (_id, r) => {
    fc.assert(fc.property(fc.array(arbOp, { minLength: 1, maxLength: 300 }), (ops) => run(r, ops)), { numRuns: 150 });
  });

  it('updates the state in place on the common path (no new state object per reading)', () => {
    const th = RULES.find((r) => r.id === 'th')!;
    let s = stepOwned(undefined, { ts: T0, values: { ia: 100 }, q: 'good' }, th, T0).state;
    const first = s;
    for (let i = 1; i <= 10; i++) s = stepOwned(s, { ts: T0 + i * S, values: { ia: 100 + i }, q: 'good' }, th, T0 + i * S).state;
    expect(s).toBe(first);
    expect(s.kind === 'threshold' && s.lastTs).toBe(T0 + 10 * S);
    // and the pure step makes a new one each time
    expect(step(s, { ts: T0 + 11 * S, values: { ia: 100 }, q: 'good' }, th, T0 + 11 * S).state).not.toBe(s);
  });

  it('every default rule kind is covered', () => {
    expect(new Set(RULES.map((r) => r.kind))).toEqual(new Set(DEFAULT_RULES.map((r) => r.kind)));
  });
});
