/**
 * Rule evaluation: pure functions over plain-JSON state (docs/conventions.md, pure core).
 *
 *   step(state, input, rule, now) → { state, transition? }   one reading of one device
 *   tick(state, rule, now)        → { state, transition? }   time passes without a reading
 *   resume(state, rule, now)      → state                    once after loading persisted state
 *
 * A transition here is a change of the rule's *condition* for one source
 * (active at some level / inactive). The caller turns it into an alarm
 * operation on `alarmId(rule.id, source)` (alarm.ts); outage transitions are
 * device supply changes that go through `correlateOutages` first.
 *
 * Time. `now` is the server's clock, passed in. A reading's own timestamp
 * (`ts`, the agent's poll time) places it in time for sampled evaluation —
 * on/off delays, 1-min means, windows — so a replayed feed behaves as it did
 * live. A timestamp more than CLOCK_AHEAD_MS ahead of `now` is clamped to
 * `now + CLOCK_AHEAD_MS` (a bogus far-future stamp must not make the next
 * real readings look old). Within that tolerance it is kept as it is:
 * clamped to `now` itself, the readings of an agent whose clock runs a few
 * ms ahead, handled within one millisecond, all got the same time and every
 * one after the first was dropped as a redelivery — the alarm bench lost
 * whole messages' raises that way. `tick`
 * measures against `now`. Stale detection uses `now` only: it is about what
 * the server has received.
 *
 * Readings that do not count, leaving the state untouched:
 *  - `late` (backfilled from an agent's spool): stored, never alarmed on —
 *    they must neither raise nor clear a live alarm (docs/design.md,
 *    Guarantees: backfill is not live); the one exception is the stale rule, for which a good late
 *    reading restarts the silence count (the meter answers its agent);
 *  - a timestamp at or before the last one evaluated (an MQTT QoS 1
 *    redelivery, or out of order), so a redelivered reading can't count twice;
 *  - quality other than `good` (a stale or comm_loss value is not a measurement),
 *    except for the stale rule and an outage rule with `commLossIsDark`;
 *  - readings without the rule's quantity.
 */
import { QUANTITIES, type Quality, type Quantity, type Values } from '../../contract/index.ts';
import { breakContinuity, decide, initialLevels, lastValueOf, observe, type LevelChange, type LevelDef, type LevelState } from './levels.ts';
import type {
  AnomalyRule,
  CallRule,
  OutageRule,
  RateOfChangeRule,
  Rule,
  Severity,
  StaleRule,
  ThresholdRule,
  UnbalanceRule,
} from './schema.ts';

// ---------------------------------------------------------------- inputs and outputs

/** One reading of one device, as the rules see it. */
export interface RuleInput {
  /** epoch ms at which the agent polled the device (Reading.ts); for a call, when it was pressed */
  ts: number;
  /** the reading's values including server-derived ones (load_rate, u_unbalance, i_unbalance) */
  values: Values;
  q: Quality;
  /** backfilled from a spool: never raises or clears anything */
  late?: boolean;
}

/** A one-key call as a rule input (the call message carries no values). */
export function callInput(ts: number, late = false): RuleInput {
  return late ? { ts, values: {}, q: 'good', late } : { ts, values: {}, q: 'good' };
}

/** A change of a rule's condition for one source. */
export interface ConditionTransition {
  to: 'active' | 'inactive';
  /** epoch ms of the decision: the reading's time for `step`, `now` for `tick` and stale checks */
  at: number;
  /**
   * threshold: hihi | hi | lo | lolo; unbalance: normal | short_time; rate_of_change: rise | fall;
   * anomaly: high | low; stale: stale; outage: dark; call: call. For `inactive`, the level that ended.
   */
  level: string;
  /** severity of the level (for `inactive`, of the level that ended) */
  severity: Severity;
  /** the evaluated value that decided it (a 1-min mean, a z-score's sample, …) */
  value?: number;
  /** the limit it was compared with */
  limit?: number;
  message: string;
}

export interface StepResult {
  state: RuleState;
  transition?: ConditionTransition;
}

// ---------------------------------------------------------------- state

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

export interface RateOfChangeState {
  kind: 'rate_of_change';
  lastTs: number | null;
  levels: LevelState;
  /** min/max of the window in 1/20-window slots: k = floor(ts / slot) */
  slots: { k: number; min: number; max: number }[];
  lastValue: number | null;
}

export interface StaleState {
  kind: 'stale';
  active: boolean;
  /** server time (now) of the last good live reading */
  lastGoodAt: number | null;
  /** server time from which silence is counted: last good reading, first sight, or resume */
  refAt: number;
  lastQ: Quality | null;
}

export interface UnbalanceState {
  kind: 'unbalance';
  lastTs: number | null;
  levels: LevelState;
  /** the interval being averaged for the normal limit */
  bucket: { start: number; sum: number; n: number } | null;
  /** mean of the last closed interval */
  lastMean: number | null;
}

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

export interface OutageState {
  kind: 'outage';
  lastTs: number | null;
  levels: LevelState;
  lastQ: Quality | null;
  /** server time of the last reading (freshness for correlation) */
  lastAt: number | null;
  /** server time the supply was last seen back after being dark; null = never dark */
  restoredAt: number | null;
}

export interface CallState {
  kind: 'call';
  lastTs: number | null;
  /** the call's condition is active until then (epoch ms); null = inactive */
  activeUntil: number | null;
}

/** Per-(rule, source) state: plain JSON, persisted so delays and baselines survive a restart. */
export type RuleState = ThresholdState | RateOfChangeState | StaleState | UnbalanceState | AnomalyState | OutageState | CallState;

/** A fresh state for a rule; `now` starts the stale rule's silence count. */
export function initialState(rule: Rule, now: number): RuleState {
  switch (rule.kind) {
    case 'threshold':
      return { kind: 'threshold', lastTs: null, levels: initialLevels(), minute: null };
    case 'rate_of_change':
      return { kind: 'rate_of_change', lastTs: null, levels: initialLevels(), slots: [], lastValue: null };
    case 'stale':
      return { kind: 'stale', active: false, lastGoodAt: null, refAt: now, lastQ: null };
    case 'unbalance':
      return { kind: 'unbalance', lastTs: null, levels: initialLevels(), bucket: null, lastMean: null };
    case 'anomaly':
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
    case 'outage':
      return { kind: 'outage', lastTs: null, levels: initialLevels(), lastQ: null, lastAt: null, restoredAt: null };
    case 'call':
      return { kind: 'call', lastTs: null, activeUntil: null };
    default:
      return unreachable(rule);
  }
}

/** Whether the state's condition is active (an alarm should be raised for it). */
export function conditionActive(state: RuleState): boolean {
  switch (state.kind) {
    case 'threshold':
    case 'rate_of_change':
    case 'unbalance':
    case 'anomaly':
    case 'outage':
      return state.levels.confirmed !== null;
    case 'stale':
      return state.active;
    case 'call':
      return state.activeUntil !== null;
    default:
      return unreachable(state);
  }
}

function unreachable(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}

// ---------------------------------------------------------------- helpers

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** a clock-aligned interval closes by `tick` this long after its end: readings of it may still be in flight */
export const INTERVAL_CLOSE_GRACE_MS = 5_000;

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function unitOf(q: string): string {
  const u = (QUANTITIES as Record<string, { unit: string }>)[q]?.unit ?? '';
  return u === '' ? '' : u === '%' || u === '°C' ? u : ` ${u}`;
}

function ruleSeverity(rule: Rule): Severity {
  return 'severity' in rule ? rule.severity : 3;
}

/** A quantity's value; a non-finite number (which the contract rejects anyway) counts as absent. */
function valueOf(input: RuleInput, q: Quantity): number | undefined {
  const v = input.values[q];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function sameKind<K extends RuleState['kind']>(state: RuleState | undefined, kind: K): state is Extract<RuleState, { kind: K }> {
  return state !== undefined && state.kind === kind;
}

/** Observes, first forgetting running exceedances when the data has a gap longer than holdS. */
function observeAfterGap(
  levels: LevelState,
  defs: readonly LevelDef[],
  a: number | undefined,
  b: number | undefined,
  deadband: number,
  from: number,
  t: number,
  holdMs: number,
  own = false,
): LevelState {
  const l = levels.lastT !== null && from - levels.lastT > holdMs ? breakContinuity(levels, from) : levels;
  return observe(l, defs, a, b, deadband, from, t, own);
}

function transitionOf(
  change: LevelChange,
  defs: readonly LevelDef[],
  levels: LevelState,
  at: number,
  describe: (d: LevelDef, value: number | undefined) => string,
  describeEnd: (name: string) => string,
  fallbackSeverity: Severity,
): ConditionTransition {
  if (change.to !== null) {
    const value = lastValueOf(levels, change.to);
    const t: ConditionTransition = { to: 'active', at, level: change.to.name, severity: change.to.severity, limit: change.to.limit, message: describe(change.to, value) };
    if (value !== undefined) t.value = value;
    return t;
  }
  const name = change.from ?? '';
  const prev = defs.find((d) => d.name === name);
  return { to: 'inactive', at, level: name, severity: prev?.severity ?? fallbackSeverity, message: describeEnd(name) };
}

/**
 * A rule's levels, built once per rule object: they are asked for on every
 * reading, and rules are immutable values (an edit installs new objects).
 */
function memoDefs<R extends object>(build: (rule: R) => LevelDef[]): (rule: R) => readonly LevelDef[] {
  const cache = new WeakMap<R, readonly LevelDef[]>();
  return (rule) => {
    let defs = cache.get(rule);
    if (defs === undefined) cache.set(rule, (defs = build(rule)));
    return defs;
  };
}

// ---------------------------------------------------------------- threshold

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

function thresholdDescribe(rule: ThresholdRule) {
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

function stepThreshold(s: ThresholdState, input: RuleInput, rule: ThresholdRule, t: number, own: boolean): StepResult {
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
  return decided(next, defs, rule, t);
}

function decided<S extends { levels: LevelState }>(
  s: S,
  defs: readonly LevelDef[],
  rule: ThresholdRule | RateOfChangeRule | UnbalanceRule | AnomalyRule | OutageRule,
  at: number,
): { state: S; change?: LevelChange } & { transition?: ConditionTransition } {
  const d = decide(s.levels, defs, rule.onDelayS * 1000, rule.offDelayS * 1000, at);
  // nothing decided (the common case): no copy — a spread over the state union is a slow, megamorphic clone on the hot path
  if (d === null) return { state: s };
  const state = { ...s, levels: d.state };
  const text = describerFor(rule, state as unknown as RuleState);
  return { state, transition: transitionOf(d.change, defs, d.state, at, text.describe, text.describeEnd, ruleSeverity(rule)) };
}

function tickThreshold(s: ThresholdState, rule: ThresholdRule, now: number): StepResult {
  const defs = thresholdDefs(rule);
  let next = s;
  if (s.minute !== null && now >= s.minute.start + MINUTE_MS + INTERVAL_CLOSE_GRACE_MS) next = closeMinute(s, rule, defs);
  return decideIfFresh(next, defs, rule, now);
}

/** Lets delays expire at `now` only while the last observation is at most holdS old. */
function decideIfFresh<S extends RuleState & { levels: LevelState }>(
  s: S,
  defs: readonly LevelDef[],
  rule: ThresholdRule | RateOfChangeRule | UnbalanceRule | AnomalyRule | OutageRule,
  now: number,
): StepResult {
  if (s.levels.lastT === null || now - s.levels.lastT > rule.holdS * 1000) return { state: s };
  return decided(s, defs, rule, now);
}

// ---------------------------------------------------------------- rate of change

const ROC_SLOTS = 20;

const rocDefs = memoDefs((rule: RateOfChangeRule): LevelDef[] => {
  const out: LevelDef[] = [];
  // the value judged is the change as a multiple of the configured limit: > 1 fires
  if (rule.direction !== 'fall') out.push({ name: 'rise', group: 'rise', rank: 1, cmp: 'gt', limit: 1, severity: rule.severity, arg: 0 });
  if (rule.direction !== 'rise') out.push({ name: 'fall', group: 'fall', rank: 1, cmp: 'gt', limit: 1, severity: rule.severity, arg: 1 });
  return out;
});

/** The change as a multiple of the limit; with both pct and abs, the smaller (both must be exceeded). */
function changeRatio(rule: RateOfChangeRule, delta: number, ref: number): number {
  let r = Infinity;
  if (rule.change.abs !== undefined) r = Math.min(r, delta / rule.change.abs);
  if (rule.change.pct !== undefined) r = Math.min(r, Math.abs(ref) > 1e-9 ? (delta / Math.abs(ref)) * 100 / rule.change.pct : 0);
  return Number.isFinite(r) ? r : 0;
}

const NO_SLOTS: readonly RateOfChangeState['slots'][number][] = Object.freeze([]);

function stepRoc(s: RateOfChangeState, input: RuleInput, rule: RateOfChangeRule, t: number, own: boolean): StepResult {
  const v = valueOf(input, rule.quantity);
  if (input.q !== 'good' || v === undefined) return { state: s };
  if (s.lastTs !== null && t <= s.lastTs) return { state: s };
  const windowMs = rule.windowS * 1000;
  const slotMs = windowMs / ROC_SLOTS;
  const gap = s.lastTs !== null && t - s.lastTs > rule.holdS * 1000;
  const oldest = Math.floor((t - windowMs) / slotMs);
  // the slots still in the window (all of them but after a gap or when the window moved on),
  // their min and max, in loops: no filter/map callbacks or spread arguments per reading
  const all: readonly RateOfChangeState['slots'][number][] = gap ? NO_SLOTS : s.slots;
  let kept = 0;
  let lastKept = -1;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < all.length; i++) {
    const x = all[i]!;
    if (x.k < oldest) continue;
    kept++;
    lastKept = i;
    if (x.min < min) min = x.min;
    if (x.max > max) max = x.max;
  }
  let ratioRise: number | undefined;
  let ratioFall: number | undefined;
  if (kept > 0) {
    ratioRise = changeRatio(rule, v - min, min);
    ratioFall = changeRatio(rule, max - v, max);
  }
  const defs = rocDefs(rule);
  const levels = observeAfterGap(s.levels, defs, ratioRise ?? 0, ratioFall ?? 0, 0, t, t, rule.holdS * 1000, own);
  const k = Math.floor(t / slotMs);
  // the kept slots, the last one widened by v when it is this reading's slot, else a new slot after them
  const merge = lastKept >= 0 && all[lastKept]!.k === k;
  // (a value inside its slot's range changes nothing: the slots are shared)
  const inside = merge && v >= all[lastKept]!.min && v <= all[lastKept]!.max;
  let slots = s.slots;
  if (own && merge && !inside && kept === all.length) {
    // owned: this reading's slot is widened where it is
    const x = all[lastKept]!;
    x.min = Math.min(x.min, v);
    x.max = Math.max(x.max, v);
  } else if (!inside || kept !== all.length) {
    // sized up front: grown by push, the array would be reallocated (and over-allocated) as it fills
    slots = new Array(merge ? kept : kept + 1);
    let j = 0;
    for (let i = 0; i < all.length; i++) {
      const x = all[i]!;
      if (x.k < oldest) continue;
      slots[j++] = merge && i === lastKept && !inside ? { k, min: Math.min(x.min, v), max: Math.max(x.max, v) } : x;
    }
    if (!merge) slots[j] = { k, min: v, max: v };
  }
  if (!own) return decided<RateOfChangeState>({ kind: 'rate_of_change', lastTs: t, levels, slots, lastValue: v }, defs, rule, t);
  s.lastTs = t;
  s.levels = levels;
  s.slots = slots;
  s.lastValue = v;
  return decided(s, defs, rule, t);
}

// ---------------------------------------------------------------- stale

export function staleAfterMs(rule: StaleRule): number {
  return (rule.afterS ?? rule.intervals * rule.pollIntervalS) * 1000;
}

function staleCheck(s: StaleState, rule: StaleRule, now: number): StepResult {
  if (s.active || now - s.refAt < staleAfterMs(rule)) return { state: s };
  const secs = Math.round((now - s.refAt) / 1000);
  const why = s.lastQ === 'comm_loss' ? ' (agent reports the meter does not answer)' : s.lastGoodAt === null ? ' (never seen)' : '';
  return {
    state: { ...s, active: true },
    transition: { to: 'active', at: now, level: 'stale', severity: rule.severity, limit: staleAfterMs(rule) / 1000, value: secs, message: `no good reading for ${secs} s${why}` },
  };
}

function stepStale(s: StaleState, input: RuleInput, rule: StaleRule, now: number, own: boolean): StepResult {
  if (input.q === 'good') {
    const wasActive = s.active;
    let next: StaleState;
    if (own) {
      next = s;
      next.active = false;
      next.lastGoodAt = now;
      next.refAt = now;
      next.lastQ = 'good';
    } else {
      next = { kind: 'stale', active: false, lastGoodAt: now, refAt: now, lastQ: 'good' };
    }
    if (!wasActive) return { state: next };
    return { state: next, transition: { to: 'inactive', at: now, level: 'stale', severity: rule.severity, message: 'good readings again' } };
  }
  if (!own) return staleCheck({ ...s, lastQ: input.q }, rule, now);
  s.lastQ = input.q;
  return staleCheck(s, rule, now);
}

/**
 * A late (backfilled) good reading for comm-loss: it proves the meter answers
 * its agent, so silence is counted anew from `now` — after a restart or an
 * outage the agents resend their backlog before their live readings, and the
 * meters in it are not silent. It never clears an active condition (backfill
 * is not live): the next live reading does.
 */
function heardLate(s: StaleState, input: RuleInput, now: number, own: boolean): StepResult {
  if (input.q !== 'good' || s.active || s.refAt >= now) return { state: s };
  if (!own) return { state: { ...s, refAt: now } };
  s.refAt = now;
  return { state: s };
}

// ---------------------------------------------------------------- unbalance

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

function stepUnbalance(s: UnbalanceState, input: RuleInput, rule: UnbalanceRule, t: number, own: boolean): StepResult {
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
    return decided<UnbalanceState>({ kind: 'unbalance', lastTs: t, levels, bucket, lastMean }, defs, rule, t);
  }
  if (b === null) s.bucket = { start, sum: 0 + v, n: 1 };
  else {
    b.sum += v;
    b.n += 1;
  }
  s.lastTs = t;
  s.levels = levels;
  s.lastMean = lastMean;
  return decided(s, defs, rule, t);
}

function tickUnbalance(s: UnbalanceState, rule: UnbalanceRule, now: number): StepResult {
  const defs = unbalanceDefs(rule);
  let next = s;
  if (s.bucket !== null && now >= s.bucket.start + rule.normal.meanS * 1000 + INTERVAL_CLOSE_GRACE_MS) next = closeUnbalance(s, rule, defs);
  return decideIfFresh(next, defs, rule, now);
}

// ---------------------------------------------------------------- anomaly

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

function stepAnomaly(s0: AnomalyState, input: RuleInput, rule: AnomalyRule, t: number, own: boolean): StepResult {
  const v = valueOf(input, rule.quantity);
  if (input.q !== 'good' || v === undefined) return { state: s0 };
  if (s0.lastTs !== null && t <= s0.lastTs) return { state: s0 };
  // a baseline learnt with other buckets means nothing under the new ones
  const s = s0.bucketMinutes === rule.bucketMinutes && s0.utcOffsetMin === rule.utcOffsetMin ? s0 : (initialState(rule, t) as AnomalyState);
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
    return decided(s, defs, rule, t);
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
  return decided(next, defs, rule, t);
}

// ---------------------------------------------------------------- outage

const outageDefs = memoDefs((rule: OutageRule): LevelDef[] => [{ name: 'dark', group: 'dark', rank: 1, cmp: 'lt', limit: rule.darkBelowV, severity: rule.severity, arg: 0 }]);

function stepOutage(s: OutageState, input: RuleInput, rule: OutageRule, t: number, now: number, own: boolean): StepResult {
  if (s.lastTs !== null && t <= s.lastTs) return { state: s };
  let vmax: number | undefined;
  if (input.q === 'good') {
    for (let i = 0; i < rule.phases.length; i++) {
      const v = valueOf(input, rule.phases[i]!);
      if (v !== undefined && (vmax === undefined || v > vmax)) vmax = v;
    }
    if (vmax === undefined) return { state: s };
  } else if (input.q === 'comm_loss') {
    if (!rule.commLossIsDark) return { state: { ...s, lastTs: t, lastQ: 'comm_loss', lastAt: now } };
    vmax = 0;
  } else {
    return { state: s };
  }
  const defs = outageDefs(rule);
  const levels = observeAfterGap(s.levels, defs, vmax, undefined, rule.deadband, t, t, rule.holdS * 1000, own);
  let next: OutageState;
  if (own) {
    next = s;
    next.lastTs = t;
    next.levels = levels;
    next.lastQ = input.q;
    next.lastAt = now;
  } else {
    next = { kind: 'outage', lastTs: t, levels, lastQ: input.q, lastAt: now, restoredAt: s.restoredAt };
  }
  return restored(decided(next, defs, rule, t), now);
}

function restored(r: { state: OutageState; transition?: ConditionTransition }, now: number): StepResult {
  return r.transition?.to === 'inactive' ? { state: { ...r.state, restoredAt: now }, transition: r.transition } : r;
}

/**
 * Supply status of one device for correlation: `dark` once the outage rule
 * has confirmed it (stays dark until evidence of supply, even if the meter
 * then falls silent); `live` when its last reading, at most holdS old, was
 * good and not dark; `unknown` otherwise (never seen, silent, comm_loss,
 * or dark but still inside the on-delay).
 */
export function supplyStatus(state: RuleState | undefined, rule: OutageRule, now: number): 'dark' | 'live' | 'unknown' {
  return supplyStatusOf(state, rule, now);
}

/** supplyStatus, plus when the supply came back (for the release delay of suppressions). */
export function supplyOf(state: RuleState | undefined, rule: OutageRule, now: number): { status: 'dark' | 'live' | 'unknown'; restoredAt: number | null } {
  if (!sameKind(state, 'outage')) return { status: 'unknown', restoredAt: null };
  return { status: supplyStatusOf(state, rule, now), restoredAt: state.restoredAt };
}

function supplyStatusOf(state: RuleState | undefined, rule: OutageRule, now: number): 'dark' | 'live' | 'unknown' {
  if (!sameKind(state, 'outage')) return 'unknown';
  if (state.levels.confirmed === 'dark') return 'dark';
  if (state.lastQ !== 'good' || state.lastAt === null || now - state.lastAt > rule.holdS * 1000) return 'unknown';
  return state.levels.beyondSince['dark'] === undefined ? 'live' : 'unknown';
}

// ---------------------------------------------------------------- call

function stepCall(s: CallState, rule: CallRule, t: number): StepResult {
  if (s.lastTs !== null && t <= s.lastTs) return { state: s };
  const next: CallState = { kind: 'call', lastTs: t, activeUntil: t + rule.activeS * 1000 };
  if (s.activeUntil !== null) return { state: next };
  return { state: next, transition: { to: 'active', at: t, level: 'call', severity: rule.severity, message: 'one-key call from site' } };
}

function tickCall(s: CallState, rule: CallRule, now: number): StepResult {
  if (s.activeUntil === null || now < s.activeUntil) return { state: s };
  return {
    state: { ...s, activeUntil: null },
    transition: { to: 'inactive', at: now, level: 'call', severity: rule.severity, message: 'call no longer pressed' },
  };
}

// ---------------------------------------------------------------- text

function describerFor(rule: Rule, state: RuleState) {
  switch (rule.kind) {
    case 'threshold':
      return thresholdDescribe(rule);
    case 'rate_of_change': {
      const u = unitOf(rule.quantity);
      const lim = [rule.change.pct !== undefined ? `${rule.change.pct} %` : '', rule.change.abs !== undefined ? `${rule.change.abs}${u}` : '']
        .filter(Boolean)
        .join(' and ');
      const now = state.kind === 'rate_of_change' && state.lastValue !== null ? ` (now ${round(state.lastValue)}${u})` : '';
      return {
        describe: (d: LevelDef) => `${rule.quantity} ${d.name === 'rise' ? 'rose' : 'fell'} by more than ${lim} within ${rule.windowS} s${now}`,
        describeEnd: (name: string) => `${rule.quantity} no longer ${name === 'rise' ? 'rising' : 'falling'} fast`,
      };
    }
    case 'unbalance':
      return {
        describe: (d: LevelDef, v: number | undefined) =>
          `${rule.quantity} ${d.name === 'normal' ? `${rule.normal.meanS / 60}-min mean` : 'short-time value'} ${v === undefined ? '?' : round(v)} % > ${d.limit} % (GB/T 15543)`,
        describeEnd: (name: string) => `${rule.quantity} back under the ${name === 'normal' ? 'normal' : 'short-time'} limit`,
      };
    case 'anomaly': {
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
    case 'outage':
      return {
        describe: (_d: LevelDef, v: number | undefined) => `all phase voltages lost (${v === undefined ? '?' : round(v)} V < ${rule.darkBelowV} V)`,
        describeEnd: () => 'phase voltages back',
      };
    case 'stale':
    case 'call':
      return { describe: () => rule.kind, describeEnd: () => rule.kind };
    default:
      return unreachable(rule);
  }
}

// ---------------------------------------------------------------- entry points

function disabled(state: RuleState | undefined, rule: Rule, now: number): StepResult {
  const fresh = initialState(rule, now);
  if (state === undefined || state.kind !== rule.kind || !conditionActive(state)) return { state: fresh };
  const level = state.kind === 'stale' ? 'stale' : state.kind === 'call' ? 'call' : state.levels.confirmed ?? '';
  return { state: fresh, transition: { to: 'inactive', at: now, level, severity: ruleSeverity(rule), message: 'rule disabled' } };
}

/**
 * How far ahead of the server's clock a reading's timestamp is believed
 * (agents keep time with NTP; a few ms to a second of skew is normal).
 */
export const CLOCK_AHEAD_MS = 2000;

/** The time the rules give a reading stamped `ts` that arrives at `now`: its own, at most CLOCK_AHEAD_MS ahead of `now`. */
export function readingTime(ts: number, now: number): number {
  return Math.min(ts, now + CLOCK_AHEAD_MS);
}

/**
 * Evaluates one reading of one device (or one call of one site) against one
 * rule. `state` undefined (or of another kind, after the rule was edited)
 * starts fresh. Never throws for any input.
 */
export function step(state: RuleState | undefined, input: RuleInput, rule: Rule, now: number): StepResult {
  return evaluate(state, input, rule, now, false);
}

/**
 * step() for a caller that gives `state` up: the same result (equal states,
 * equal transitions), but the state's own objects may be updated in place and
 * returned instead of copied. The caller must not use `state`, nor any earlier
 * state of the same sequence (pure steps share parts with their predecessors),
 * after the call. The alarm service keeps one state per (rule, source) and
 * replaces it with each result: there it saves every reading of every rule
 * its new state objects (most of what the rules allocated per reading).
 */
export function stepOwned(state: RuleState | undefined, input: RuleInput, rule: Rule, now: number): StepResult {
  return evaluate(state, input, rule, now, true);
}

function evaluate(state: RuleState | undefined, input: RuleInput, rule: Rule, now: number, own: boolean): StepResult {
  if (!rule.enabled) return disabled(state, rule, now);
  if (input.late === true && rule.kind === 'stale') return heardLate(sameKind(state, 'stale') ? state : (initialState(rule, now) as StaleState), input, now, own);
  if (input.late === true || !Number.isFinite(input.ts)) return { state: state ?? initialState(rule, now) };
  const t = readingTime(input.ts, now);
  switch (rule.kind) {
    case 'threshold':
      return stepThreshold(sameKind(state, 'threshold') ? state : (initialState(rule, now) as ThresholdState), input, rule, t, own);
    case 'rate_of_change':
      return stepRoc(sameKind(state, 'rate_of_change') ? state : (initialState(rule, now) as RateOfChangeState), input, rule, t, own);
    case 'stale':
      return stepStale(sameKind(state, 'stale') ? state : (initialState(rule, now) as StaleState), input, rule, now, own);
    case 'unbalance':
      return stepUnbalance(sameKind(state, 'unbalance') ? state : (initialState(rule, now) as UnbalanceState), input, rule, t, own);
    case 'anomaly':
      return stepAnomaly(sameKind(state, 'anomaly') ? state : (initialState(rule, now) as AnomalyState), input, rule, t, own);
    case 'outage':
      return stepOutage(sameKind(state, 'outage') ? state : (initialState(rule, now) as OutageState), input, rule, t, now, own);
    case 'call':
      return stepCall(sameKind(state, 'call') ? state : (initialState(rule, now) as CallState), rule, t);
    default:
      return unreachable(rule);
  }
}

/**
 * Time-driven evaluation at `now` without a reading: an on- or off-delay that
 * expires while the last value still holds (at most holdS old), a
 * clock-aligned interval whose end has passed (plus INTERVAL_CLOSE_GRACE_MS),
 * stale data, the end of a call. Call it for every (rule, source) with state,
 * and for the stale rule also for every device in scope that has none yet
 * (a meter that never reported becomes stale). Once a second is enough:
 * a transition's `at` is the tick's `now`.
 */
export function tick(state: RuleState | undefined, rule: Rule, now: number): StepResult {
  if (!rule.enabled) return disabled(state, rule, now);
  switch (rule.kind) {
    case 'threshold':
      return sameKind(state, 'threshold') ? tickThreshold(state, rule, now) : { state: initialState(rule, now) };
    case 'rate_of_change':
      return sameKind(state, 'rate_of_change') ? decideIfFresh(state, rocDefs(rule), rule, now) : { state: initialState(rule, now) };
    case 'stale':
      return staleCheck(sameKind(state, 'stale') ? state : (initialState(rule, now) as StaleState), rule, now);
    case 'unbalance':
      return sameKind(state, 'unbalance') ? tickUnbalance(state, rule, now) : { state: initialState(rule, now) };
    case 'anomaly':
      return sameKind(state, 'anomaly') ? decideIfFresh(state, anomalyDefs(rule), rule, now) : { state: initialState(rule, now) };
    case 'outage':
      return sameKind(state, 'outage') ? restored(decideIfFresh(state, outageDefs(rule), rule, now) as { state: OutageState; transition?: ConditionTransition }, now) : { state: initialState(rule, now) };
    case 'call':
      return sameKind(state, 'call') ? tickCall(state, rule, now) : { state: initialState(rule, now) };
    default:
      return unreachable(rule);
  }
}

/**
 * Call once per persisted state when the evaluator starts again. The time the
 * server was down is not silence of the meters: a stale count restarts from
 * `now` (an already active stale condition stays active). Running on-delays
 * and baselines continue as they were; a gap longer than holdS in the
 * readings themselves breaks continuity as usual.
 */
export function resume(state: RuleState, rule: Rule, now: number): RuleState {
  if (state.kind === 'stale' && rule.kind === 'stale' && !state.active) return { ...state, refAt: Math.max(state.refAt, now) };
  return state;
}
