/**
 * threshold: fixed limits (hihi, hi, lo, lolo) on one or more quantities,
 * instant or on clock-aligned 1-min means.
 */
import { z } from 'zod';
import { initialLevels, type LevelDef, type LevelState } from '../levels.ts';
import { INTERVAL_CLOSE_GRACE_MS, MINUTE_MS, decideIfFresh, decided, defineKind, confirmedLevel, levelsActive, memoDefs, observeAfterGap, round, unitOf, valueOf, type Describer, type RuleInput, type StepResult } from './common.ts';
import { common, delays, levelSchema, oneOrMany, quantity, type SemanticIssue, type Severity } from './fields.ts';


/**
 * Fixed limits. hi/hihi fire when the value is strictly above, lo/lolo when
 * strictly below. `deadband` (in the quantity's unit) is the hysteresis: an
 * active level is left only when the value is back inside by more than the
 * deadband. With several quantities (e.g. the three phase voltages) the
 * worst one counts: the largest against hi levels, the smallest against lo
 * levels. `mean1m` evaluates the mean of each clock-aligned minute (GB/T
 * 12325: supply voltage deviation is a statistical value over 1-min means;
 * IEC 61000-4-30 aligns aggregation intervals to absolute time).
 */
export const ThresholdRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('threshold'),
  quantity: oneOrMany(quantity),
  levels: z.strictObject({
    hihi: levelSchema(2).optional(),
    hi: levelSchema(3).optional(),
    lo: levelSchema(3).optional(),
    lolo: levelSchema(2).optional(),
  }),
  deadband: z.number().nonnegative().default(0),
  evaluate: z.enum(['instant', 'mean1m']).default('instant'),
  ...delays,
});
export type ThresholdRule = z.output<typeof ThresholdRuleSchema>;
export type ThresholdLevelName = keyof ThresholdRule['levels'];

/** Sum and count per quantity of the current clock-aligned interval. */
export interface MeanBucket {
  /** epoch ms, start of the interval */
  start: number;
  /** the quantities summed, in `acc` order: the rule's own (frozen, shared) array, so a reading copies nothing for it */
  qs: readonly string[];
  /**
   * [sum of qs[0], …, sum of qs[n-1], count of qs[0], …, count of qs[n-1]]:
   * one flat array of doubles is the smallest thing a reading can copy
   * (two keyed records cost each reading about twice the bytes and time)
   */
  acc: number[];
}

/** A minute as saved before `acc`: sums and counts keyed by quantity. Still read. */
interface KeyedMeanBucket {
  start: number;
  sums: Record<string, number>;
  counts: Record<string, number>;
}

export interface ThresholdState {
  kind: 'threshold';
  /** ts of the last reading evaluated */
  lastTs: number | null;
  levels: LevelState;
  /** the minute being averaged (evaluate: mean1m) */
  minute: MeanBucket | null;
}

function check(rule: ThresholdRule): SemanticIssue[] {
  const out: SemanticIssue[] = [];
  const { hihi, hi, lo, lolo } = rule.levels;
  if (!hihi && !hi && !lo && !lolo) out.push({ path: ['levels'], message: 'at least one of hihi, hi, lo, lolo is required' });
  const order: [ThresholdLevelName, number | undefined][] = [
    ['lolo', lolo?.value],
    ['lo', lo?.value],
    ['hi', hi?.value],
    ['hihi', hihi?.value],
  ];
  const given = order.filter((x): x is [ThresholdLevelName, number] => x[1] !== undefined);
  for (let i = 1; i < given.length; i++) {
    const [pn, pv] = given[i - 1]!;
    const [n, v] = given[i]!;
    if (!(pv < v)) out.push({ path: ['levels', n, 'value'], message: `must be greater than ${pn} (${pv}); levels are ordered lolo < lo < hi < hihi` });
  }
  if (lo && hi && rule.deadband * 2 >= hi.value - lo.value)
    out.push({ path: ['deadband'], message: `deadband ${rule.deadband} must be less than half the lo..hi band (${lo.value}..${hi.value})` });
  return out;
}

const thresholdDefs = memoDefs((rule: ThresholdRule): LevelDef[] => {
  const out: LevelDef[] = [];
  const { hihi, hi, lo, lolo } = rule.levels;
  // hi levels are judged on the worst (largest) value of the quantities, lo levels on the smallest: observe(…, max, min, …)
  if (hi) out.push({ name: 'hi', group: 'hi', rank: 1, cmp: 'gt', limit: hi.value, severity: hi.severity, arg: 0 });
  if (hihi) out.push({ name: 'hihi', group: 'hi', rank: 2, cmp: 'gt', limit: hihi.value, severity: hihi.severity, arg: 0 });
  if (lo) out.push({ name: 'lo', group: 'lo', rank: 1, cmp: 'lt', limit: lo.value, severity: lo.severity, arg: 1 });
  if (lolo) out.push({ name: 'lolo', group: 'lo', rank: 2, cmp: 'lt', limit: lolo.value, severity: lolo.severity, arg: 1 });
  return out;
});

function describe(rule: ThresholdRule): Describer {
  const qs = rule.quantity.join(',');
  const u = unitOf(rule.quantity[0]!);
  const what = rule.evaluate === 'mean1m' ? `${qs} 1-min mean` : qs;
  return {
    describe: (d: LevelDef, v: number | undefined) =>
      `${what} ${v === undefined ? '?' : round(v)}${u} ${d.cmp === 'gt' ? '>' : '<'} ${d.name} limit ${d.limit}${u}` +
      (rule.onDelayS > 0 ? ` for ${rule.onDelayS} s` : ''),
    describeEnd: (name: string) => `${what} back inside the ${name} limit`,
  };
}

/** A fresh accumulator for n quantities: doubles from the start, so V8 keeps it a packed double array. */
function newAcc(n: number): number[] {
  const acc: number[] = [];
  for (let i = 0; i < 2 * n; i++) acc.push(0.5);
  acc.fill(0);
  return acc;
}

/**
 * The minute's sums and counts in the order of rule.quantity. The same array
 * while the minute was built under this rule object (every reading); else — a
 * state loaded from disk, a rule edited mid-minute, a state saved with keyed
 * sums — rebuilt by quantity name, as the keyed form always matched them.
 * The result is read only.
 */
function accOf(m: MeanBucket, rule: ThresholdRule): readonly number[] {
  if (m.qs === rule.quantity) return m.acc;
  const qs = rule.quantity;
  const len = qs.length;
  const acc = newAcc(len);
  if (Array.isArray(m.acc) && Array.isArray(m.qs)) {
    for (let i = 0; i < len; i++) {
      const j = m.qs.indexOf(qs[i]!);
      if (j < 0) continue;
      acc[i] = m.acc[j] ?? 0;
      acc[len + i] = m.acc[m.qs.length + j] ?? 0;
    }
  } else {
    const k = m as unknown as KeyedMeanBucket;
    for (let i = 0; i < len; i++) {
      const sum = k.sums?.[qs[i]!];
      const n = k.counts?.[qs[i]!];
      if (sum === undefined || n === undefined) continue;
      acc[i] = sum;
      acc[len + i] = n;
    }
  }
  return acc;
}

function closeMinute(s: ThresholdState, rule: ThresholdRule, defs: readonly LevelDef[]): ThresholdState {
  const m = s.minute;
  if (m === null) return s;
  const acc = accOf(m, rule);
  const len = rule.quantity.length;
  // the worst mean: the largest for hi levels, the smallest for lo levels
  let means = 0;
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < len; i++) {
    const n = acc[len + i]!;
    if (!(n > 0)) continue;
    const mean = acc[i]! / n;
    means++;
    if (mean > max) max = mean;
    if (mean < min) min = mean;
  }
  const levels = means > 0 ? observeAfterGap(s.levels, defs, max, min, rule.deadband, m.start, m.start + MINUTE_MS, rule.holdS * 1000) : s.levels;
  return { ...s, levels, minute: null };
}

function stepThreshold(s: ThresholdState, input: RuleInput, rule: ThresholdRule, t: number, _now: number, own: boolean): StepResult {
  if (input.q !== 'good') return { state: s };
  // no arrays, tuples or spreads on the per-reading path (every reading of every device comes here);
  // indexed loops, not for-of: rules are frozen, and V8 (Node 20) does not inline for-of over a frozen
  // array — it runs the generic iterator, ~70 B of iterator results per element
  let n = 0;
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < rule.quantity.length; i++) {
    const v = valueOf(input, rule.quantity[i]!);
    if (v === undefined) continue;
    n++;
    if (v > max) max = v;
    if (v < min) min = v;
  }
  if (n === 0) return { state: s };
  if (s.lastTs !== null && t <= s.lastTs) return { state: s };
  const defs = thresholdDefs(rule);
  // object literals, not spreads: a spread over the state union is a megamorphic clone
  let next: ThresholdState = own ? s : { kind: 'threshold', lastTs: t, levels: s.levels, minute: s.minute };
  next.lastTs = t;
  if (rule.evaluate === 'instant') {
    next.levels = observeAfterGap(next.levels, defs, max, min, rule.deadband, t, t, rule.holdS * 1000, own);
  } else {
    const start = Math.floor(t / MINUTE_MS) * MINUTE_MS;
    // (closing a minute copies the state: once a minute, not per reading)
    if (next.minute !== null && next.minute.start !== start) next = closeMinute(next, rule, defs);
    const m = next.minute;
    // owned, the minute's own sums are added to; else a copy of them
    const inPlace = own && m !== null && m.qs === rule.quantity;
    const acc = inPlace ? m.acc : m === null ? newAcc(rule.quantity.length) : accOf(m, rule).slice();
    const len = rule.quantity.length;
    for (let i = 0; i < len; i++) {
      const v = valueOf(input, rule.quantity[i]!);
      if (v === undefined) continue;
      acc[i]! += v;
      acc[len + i]! += 1;
    }
    if (!inPlace) next.minute = { start, qs: rule.quantity, acc };
  }
  return decided(next, defs, rule, t, describe);
}

function tickThreshold(s: ThresholdState, rule: ThresholdRule, now: number): StepResult {
  const defs = thresholdDefs(rule);
  let next = s;
  if (s.minute !== null && now >= s.minute.start + MINUTE_MS + INTERVAL_CLOSE_GRACE_MS) next = closeMinute(s, rule, defs);
  return decideIfFresh(next, defs, rule, now, describe);
}

export const threshold = defineKind({
  kind: 'threshold',
  schema: ThresholdRuleSchema,
  check,
  sampled: true,
  source: 'device',
  quantities: (rule) => rule.quantity,
  initialState: (): ThresholdState => ({ kind: 'threshold', lastTs: null, levels: initialLevels(), minute: null }),
  step: stepThreshold,
  tick: tickThreshold,
  conditionActive: levelsActive,
  activeLevel: confirmedLevel,
  severity: (rule) => Math.min(...Object.values(rule.levels).map((l) => l.severity)) as Severity,
  describe,
});
