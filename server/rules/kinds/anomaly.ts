/**
 * anomaly: a value far from its usual level at that time of day (an EWMA
 * baseline per time-of-day bucket, judged by z-score).
 */
import { z } from 'zod';
import { initialLevels, type LevelDef, type LevelState } from '../levels.ts';
import { DAY_MS, MINUTE_MS, confirmedLevel, decideIfFresh, decided, defineKind, levelsActive, memoDefs, observeAfterGap, round, unitOf, valueOf, type Describer, type RuleInput, type StepResult } from './common.ts';
import { common, delays, quantity, severity, type SemanticIssue } from './fields.ts';

/**
 * Statistical anomaly: a baseline (EWMA mean and variance) per series and
 * time-of-day bucket; fires when |z| exceeds `zLimit`. The baseline's memory
 * is `memoryDays` days of that bucket's time (rate-independent: a sample
 * weighs by the time it represents). A bucket may fire only after it has
 * seen `minDays` distinct days and `minSamples` samples. Samples beyond the
 * limit update the baseline clipped to mean ± zLimit·σ, so a fault is not
 * learned as normal at once. `minStd` (quantity's unit) keeps a nearly
 * constant series from firing on rounding noise.
 */
export const AnomalyRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('anomaly'),
  quantity,
  bucketMinutes: z
    .number()
    .int()
    .positive()
    .refine((m) => 1440 % m === 0, 'must divide a day (1440 minutes)')
    .default(60),
  /** local time of the buckets: China Standard Time by default */
  utcOffsetMin: z.number().int().min(-720).max(840).default(480),
  memoryDays: z.number().positive().default(7),
  zLimit: z.number().positive().default(5),
  zDeadband: z.number().nonnegative().default(1),
  direction: z.enum(['high', 'low', 'both']).default('both'),
  minDays: z.number().int().nonnegative().default(3),
  minSamples: z.number().int().nonnegative().default(30),
  minStd: z.number().nonnegative().default(0),
  severity: severity.default(4),
  ...delays,
});
export type AnomalyRule = z.output<typeof AnomalyRuleSchema>;

/** EWMA baseline of one time-of-day bucket. */
export interface BaselineBucket {
  n: number;
  mean: number;
  variance: number;
  /** distinct local days seen */
  days: number;
  /** local day number of the last sample, -1 = none */
  lastDay: number;
}

export interface AnomalyState {
  kind: 'anomaly';
  lastTs: number | null;
  levels: LevelState;
  /** the bucketing the baseline was learnt with; a change resets the baseline */
  bucketMinutes: number;
  utcOffsetMin: number;
  /** per time-of-day bucket; the bucket in `open` holds its newest values there, not here */
  baseline: BaselineBucket[];
  /**
   * The bucket being learnt, kept apart until the time of day moves on to
   * another bucket (then folded into `baseline`): every reading updates it,
   * and a new state then copies this one object instead of the whole baseline
   * (24–288 entries). Absent in states saved before it existed (= none).
   */
  open?: OpenBucket | null;
  /** the last evaluation, for messages */
  last: { value: number; mean: number; std: number; bucket: number } | null;
}

export interface OpenBucket extends BaselineBucket {
  /** index into the baseline */
  bucket: number;
}

function initialState(rule: AnomalyRule): AnomalyState {
  return {
    kind: 'anomaly',
    lastTs: null,
    levels: initialLevels(),
    bucketMinutes: rule.bucketMinutes,
    utcOffsetMin: rule.utcOffsetMin,
    baseline: Array.from({ length: 1440 / rule.bucketMinutes }, () => ({ n: 0, mean: 0, variance: 0, days: 0, lastDay: -1 })),
    open: null,
    last: null,
  };
}

function check(rule: AnomalyRule): SemanticIssue[] {
  return rule.zDeadband >= rule.zLimit ? [{ path: ['zDeadband'], message: `must be less than zLimit (${rule.zLimit})` }] : [];
}

function describe(rule: AnomalyRule, state: AnomalyState): Describer {
  const u = unitOf(rule.quantity);
  return {
    describe: (d: LevelDef, z: number | undefined) => {
      const last = state.kind === 'anomaly' ? state.last : null;
      if (!last) return `${rule.quantity} unusual (z ${z === undefined ? '?' : round(z)})`;
      const from = last.bucket * rule.bucketMinutes;
      const hhmm = (m: number) => `${String(Math.floor(m / 60) % 24).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
      return `${rule.quantity} ${round(last.value)}${u} is ${round(Math.abs(z ?? 0))} σ ${d.name === 'high' ? 'above' : 'below'} the usual ${round(last.mean)}${u} for ${hhmm(from)}–${hhmm(from + rule.bucketMinutes)}`;
    },
    describeEnd: () => `${rule.quantity} back to its usual range`,
  };
}

const anomalyDefs = memoDefs((rule: AnomalyRule): LevelDef[] => {
  const out: LevelDef[] = [];
  // both judged on the z-score: observe(…, z, z, …)
  if (rule.direction !== 'low') out.push({ name: 'high', group: 'high', rank: 1, cmp: 'gt', limit: rule.zLimit, severity: rule.severity, arg: 0 });
  if (rule.direction !== 'high') out.push({ name: 'low', group: 'low', rank: 1, cmp: 'lt', limit: -rule.zLimit, severity: rule.severity, arg: 1 });
  return out;
});

/** Local day number and time-of-day bucket of a timestamp. */
export function timeOfDayBucket(ts: number, bucketMinutes: number, utcOffsetMin: number): { day: number; bucket: number } {
  const local = ts + utcOffsetMin * MINUTE_MS;
  const day = Math.floor(local / DAY_MS);
  const bucket = Math.floor((local - day * DAY_MS) / (bucketMinutes * MINUTE_MS));
  return { day, bucket };
}

/** A bucket never sampled (read only). */
const EMPTY_BUCKET: BaselineBucket = Object.freeze({ n: 0, mean: 0, variance: 0, days: 0, lastDay: -1 });

/** The baseline with the open bucket written back: once per bucket change, not per reading. */
function foldOpen(baseline: BaselineBucket[], open: OpenBucket): BaselineBucket[] {
  if (open.bucket < 0 || open.bucket >= baseline.length) return baseline;
  const out = baseline.slice();
  out[open.bucket] = { n: open.n, mean: open.mean, variance: open.variance, days: open.days, lastDay: open.lastDay };
  return out;
}

function stepAnomaly(s0: AnomalyState, input: RuleInput, rule: AnomalyRule, t: number, _now: number, own: boolean): StepResult {
  const v = valueOf(input, rule.quantity);
  if (input.q !== 'good' || v === undefined) return { state: s0 };
  if (s0.lastTs !== null && t <= s0.lastTs) return { state: s0 };
  // a baseline learnt with other buckets means nothing under the new ones
  const s = s0.bucketMinutes === rule.bucketMinutes && s0.utcOffsetMin === rule.utcOffsetMin ? s0 : initialState(rule);
  // timeOfDayBucket inline: its { day, bucket } would be one more object per reading
  const local = t + rule.utcOffsetMin * MINUTE_MS;
  const day = Math.floor(local / DAY_MS);
  const bucket = Math.floor((local - day * DAY_MS) / (rule.bucketMinutes * MINUTE_MS));
  let baseline = s.baseline;
  let open = s.open ?? null;
  if (open !== null && open.bucket !== bucket) {
    baseline = foldOpen(baseline, open);
    open = null;
  }
  const B = open ?? baseline[bucket] ?? EMPTY_BUCKET;
  const completedDays = B.lastDay === day ? B.days - 1 : B.days;
  const ready = completedDays >= rule.minDays && B.n >= rule.minSamples;
  const std = Math.max(Math.sqrt(B.variance), rule.minStd, 1e-9);
  const z = ready ? (v - B.mean) / std : 0;
  const defs = anomalyDefs(rule);
  const holdMs = rule.holdS * 1000;
  const levels = observeAfterGap(s.levels, defs, z, z, rule.zDeadband, t, t, holdMs, own);

  // EWMA over `memoryDays` of this bucket's time: a sample weighs by the time it stands for
  // (capped at holdS, so the night-long gap before a bucket's next day is not counted);
  // the first samples average plainly (1/n) until the exponential weight takes over.
  const dt = s.lastTs === null ? 0 : Math.min(t - s.lastTs, holdMs);
  const tau = rule.memoryDays * rule.bucketMinutes * MINUTE_MS;
  const alpha = Math.max(1 / (B.n + 1), 1 - Math.exp(-dt / tau));
  const x = ready ? Math.min(Math.max(v, B.mean - rule.zLimit * std), B.mean + rule.zLimit * std) : v;
  const diff = x - B.mean;
  const incr = alpha * diff;
  // the bucket's next values, computed once (B is read before anything is written: owned, B may be `open` itself)
  const n = B.n + 1;
  const mean = B.mean + incr;
  const variance = (1 - alpha) * (B.variance + diff * incr);
  const days = B.lastDay === day ? B.days : B.days + 1;
  const prevMean = B.mean;
  if (own) {
    // owned: the open bucket (this bucket's) and the last evaluation are updated where they are
    if (open !== null) {
      open.n = n;
      open.mean = mean;
      open.variance = variance;
      open.days = days;
      open.lastDay = day;
    } else open = { n, mean, variance, days, lastDay: day, bucket };
    const last = s.last;
    if (last !== null) {
      last.value = v;
      last.mean = prevMean;
      last.std = std;
      last.bucket = bucket;
    } else s.last = { value: v, mean: prevMean, std, bucket };
    s.lastTs = t;
    s.levels = levels;
    s.baseline = baseline;
    s.open = open;
    return decided(s, defs, rule, t, describe);
  }
  const nb: OpenBucket = { n, mean, variance, days, lastDay: day, bucket };
  const next: AnomalyState = {
    kind: 'anomaly',
    lastTs: t,
    levels,
    bucketMinutes: s.bucketMinutes,
    utcOffsetMin: s.utcOffsetMin,
    baseline,
    open: nb,
    last: { value: v, mean: prevMean, std, bucket },
  };
  return decided(next, defs, rule, t, describe);
}


export const anomaly = defineKind({
  kind: 'anomaly',
  schema: AnomalyRuleSchema,
  check,
  sampled: true,
  source: 'device',
  quantities: (rule) => [rule.quantity],
  initialState,
  step: stepAnomaly,
  tick: (s, rule, now) => decideIfFresh(s, anomalyDefs(rule), rule, now, describe),
  conditionActive: levelsActive,
  activeLevel: confirmedLevel,
  severity: (rule) => rule.severity,
  describe,
});
