/**
 * unbalance: voltage or current unbalance (GB/T 15543), a normal limit on
 * interval means and a short-time limit on each sample.
 */
import { z } from 'zod';
import { initialLevels, type LevelDef, type LevelState } from '../levels.ts';
import { INTERVAL_CLOSE_GRACE_MS, confirmedLevel, decideIfFresh, decided, defineKind, levelsActive, memoDefs, observeAfterGap, round, valueOf, type Describer, type RuleInput, type StepResult } from './common.ts';
import { common, delays, positiveSeconds, severity, type SemanticIssue } from './fields.ts';

/**
 * Voltage or current unbalance (GB/T 15543): `normal` limit on the mean of
 * clock-aligned `meanS` intervals (the standard's 10-min values), `shortTime`
 * limit on each sample (the standard's short-time values). `shortTime` is
 * the more severe level.
 */
export const UnbalanceRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('unbalance'),
  quantity: z.enum(['u_unbalance', 'i_unbalance']).default('u_unbalance'),
  normal: z
    .strictObject({ limitPct: z.number().positive().default(2), meanS: positiveSeconds.default(600), severity: severity.default(4) })
    .prefault({}),
  shortTime: z.strictObject({ limitPct: z.number().positive().default(4), severity: severity.default(3) }).prefault({}),
  deadband: z.number().nonnegative().default(0.2),
  ...delays,
});
export type UnbalanceRule = z.output<typeof UnbalanceRuleSchema>;

export interface UnbalanceState {
  kind: 'unbalance';
  lastTs: number | null;
  levels: LevelState;
  /** the interval being averaged for the normal limit */
  bucket: { start: number; sum: number; n: number } | null;
  /** mean of the last closed interval */
  lastMean: number | null;
}

function check(rule: UnbalanceRule): SemanticIssue[] {
  return rule.normal.limitPct < rule.shortTime.limitPct ? [] : [{ path: ['shortTime', 'limitPct'], message: `must be greater than normal.limitPct (${rule.normal.limitPct})` }];
}

function describe(rule: UnbalanceRule): Describer {
  return {
    describe: (d: LevelDef, v: number | undefined) =>
      `${rule.quantity} ${d.name === 'normal' ? `${rule.normal.meanS / 60}-min mean` : 'short-time value'} ${v === undefined ? '?' : round(v)} % > ${d.limit} % (GB/T 15543)`,
    describeEnd: (name: string) => `${rule.quantity} back under the ${name === 'normal' ? 'normal' : 'short-time'} limit`,
  };
}

const unbalanceDefs = memoDefs((rule: UnbalanceRule): LevelDef[] => [
  // normal is judged on the interval's mean, short_time on each value: observe(…, mean, value, …)
  { name: 'normal', group: 'hi', rank: 1, cmp: 'gt', limit: rule.normal.limitPct, severity: rule.normal.severity, arg: 0 },
  { name: 'short_time', group: 'hi', rank: 2, cmp: 'gt', limit: rule.shortTime.limitPct, severity: rule.shortTime.severity, arg: 1 },
]);

/** The levels once the interval `b` (n > 0) has closed: its mean judged against the normal limit. */
function observeMean(levels: LevelState, b: { start: number; sum: number; n: number }, rule: UnbalanceRule, defs: readonly LevelDef[]): LevelState {
  return observeAfterGap(levels, defs, b.sum / b.n, undefined, rule.deadband, b.start, b.start + rule.normal.meanS * 1000, rule.holdS * 1000);
}

function closeUnbalance(s: UnbalanceState, rule: UnbalanceRule, defs: readonly LevelDef[]): UnbalanceState {
  const b = s.bucket;
  if (b === null || b.n === 0) return { ...s, bucket: null };
  return { ...s, levels: observeMean(s.levels, b, rule, defs), bucket: null, lastMean: b.sum / b.n };
}

function stepUnbalance(s: UnbalanceState, input: RuleInput, rule: UnbalanceRule, t: number, _now: number, own: boolean): StepResult {
  const v = valueOf(input, rule.quantity);
  if (input.q !== 'good' || v === undefined) return { state: s };
  if (s.lastTs !== null && t <= s.lastTs) return { state: s };
  const defs = unbalanceDefs(rule);
  const meanMs = rule.normal.meanS * 1000;
  const start = Math.floor(t / meanMs) * meanMs;
  // one state object per reading: no intermediate state when an interval closes
  let levels = s.levels;
  let lastMean = s.lastMean;
  let b = s.bucket;
  if (b !== null && b.start !== start) {
    if (b.n !== 0) {
      levels = observeMean(levels, b, rule, defs);
      lastMean = b.sum / b.n;
    }
    b = null;
  }
  levels = observeAfterGap(levels, defs, undefined, v, rule.deadband, t, t, rule.holdS * 1000, own);
  if (!own) {
    // b.start, not start, while the interval goes on: the same number, and no new box for it
    const bucket = b === null ? { start, sum: 0 + v, n: 1 } : { start: b.start, sum: b.sum + v, n: b.n + 1 };
    return decided<UnbalanceState, UnbalanceRule>({ kind: 'unbalance', lastTs: t, levels, bucket, lastMean }, defs, rule, t, describe);
  }
  if (b === null) s.bucket = { start, sum: 0 + v, n: 1 };
  else {
    b.sum += v;
    b.n += 1;
  }
  s.lastTs = t;
  s.levels = levels;
  s.lastMean = lastMean;
  return decided(s, defs, rule, t, describe);
}

function tickUnbalance(s: UnbalanceState, rule: UnbalanceRule, now: number): StepResult {
  const defs = unbalanceDefs(rule);
  let next = s;
  if (s.bucket !== null && now >= s.bucket.start + rule.normal.meanS * 1000 + INTERVAL_CLOSE_GRACE_MS) next = closeUnbalance(s, rule, defs);
  return decideIfFresh(next, defs, rule, now, describe);
}


export const unbalance = defineKind({
  kind: 'unbalance',
  schema: UnbalanceRuleSchema,
  check,
  sampled: true,
  source: 'device',
  quantities: (rule) => [rule.quantity],
  initialState: (): UnbalanceState => ({ kind: 'unbalance', lastTs: null, levels: initialLevels(), bucket: null, lastMean: null }),
  step: stepUnbalance,
  tick: tickUnbalance,
  conditionActive: levelsActive,
  activeLevel: confirmedLevel,
  severity: (rule) => rule.shortTime.severity,
  describe,
});
