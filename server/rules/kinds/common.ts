/**
 * What every rule kind is made of: the inputs and outputs of a step, the
 * descriptor a kind exports (registry.ts maps kind → descriptor, engine.ts
 * dispatches through it), and the helpers the kinds share — levels with
 * gaps, transitions, rounding and units, per-rule memoised level definitions.
 */
import type { z } from 'zod';
import { QUANTITIES, type Quality, type Quantity, type Values } from '../../../contract/index.ts';
import { breakContinuity, decide, lastValueOf, observe, type LevelChange, type LevelDef, type LevelState } from '../levels.ts';
import type { RuleState } from '../registry.ts';
import type { SemanticIssue, Severity } from './fields.ts';

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
  /** a transformer area's line-loss figure of one interval (server/energy), for the line_loss rules (kinds/line-loss.ts) */
  lineLoss?: { interval: string; start: number; complete: boolean; lossPct: number | null; missing: readonly string[]; meters: number };
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

/** The texts of a kind's transitions. */
export interface Describer {
  describe: (d: LevelDef, value: number | undefined) => string;
  describeEnd: (name: string) => string;
}

// ---------------------------------------------------------------- the descriptor

/**
 * One rule kind. `S` is its per-(rule, source) state (plain JSON, with
 * `kind`), `Schema` the zod schema of its rule document (a strict object with
 * a literal `kind`). The engine hands each function only a state of this kind:
 * a missing state or one of another kind (the rule was edited) is replaced by
 * `initialState` first.
 */
export interface KindDescriptor<K extends string, Schema extends z.ZodType<{ kind: K }>, S extends { kind: K }> {
  kind: K;
  /** the rule's document shape; defaults live here */
  schema: Schema;
  /** checks the schema cannot express per field (none = valid) */
  check?: (rule: z.output<Schema>) => SemanticIssue[];
  /**
   * Judged on readings of a device (threshold, rate of change, unbalance,
   * anomaly): its ticks run on the device's clock (the server's now minus the
   * device's lag), as its readings do.
   */
  sampled: boolean;
  /** what the rule's alarms are on: a device (a meter) or a site (the one-key call) */
  source: 'device' | 'site';
  /**
   * The quantities the rule judges: a live reading that carries none of them
   * leaves its state as it is (no transition, the same state object), so the
   * caller may skip the step (dispatch by quantity: a room sensor's reading
   * never reaches the meter rules). Absent: every reading may matter (stale,
   * outage with comm loss, call).
   */
  quantities?: (rule: z.output<Schema>) => readonly string[];
  /** a fresh state; `now` starts the stale rule's silence count */
  initialState: (rule: z.output<Schema>, now: number) => S;
  /**
   * One live reading at time `t` (the reading's time, readingTime()) arriving at
   * server time `now`. Pure unless `own`: then the state's own objects may be
   * updated in place and returned (stepOwned). Never throws.
   */
  step: (s: S, input: RuleInput, rule: z.output<Schema>, t: number, now: number, own: boolean) => StepResult;
  /** a late (backfilled) reading; without it a late reading changes nothing */
  late?: (s: S, input: RuleInput, rule: z.output<Schema>, now: number, own: boolean) => StepResult;
  /** time passes without a reading (pure) */
  tick: (s: S, rule: z.output<Schema>, now: number) => StepResult;
  /** tick a source that has no state yet (from a fresh state) instead of only creating one: a meter that never reports */
  tickUnseen?: boolean;
  /** once after loading a persisted state */
  resume?: (s: S, rule: z.output<Schema>, now: number) => S;
  /** whether an alarm should be raised for the state */
  conditionActive: (s: S) => boolean;
  /** the level of an active condition (ended by disabling the rule) */
  activeLevel: (s: S) => string;
  /** the most urgent severity the rule can raise */
  severity: (rule: z.output<Schema>) => Severity;
  /** transition texts of a rule in a state */
  describe: (rule: z.output<Schema>, state: S) => Describer;
}

/**
 * A kind's descriptor: `export const threshold = defineKind({ … })`. Every
 * descriptor is rebuilt with the same properties in the same order (absent
 * optional ones as undefined), so all kinds share one object shape and the
 * dispatcher's loads of `step`, `tick`, … stay monomorphic (with the optional
 * members present or not, kinds had several shapes and each load on every
 * reading and tick of every rule was a polymorphic lookup: docs/performance.md).
 */
export function defineKind<K extends string, Schema extends z.ZodType<{ kind: K }>, S extends { kind: K }>(d: KindDescriptor<K, Schema, S>): KindDescriptor<K, Schema, S> {
  return {
    kind: d.kind,
    schema: d.schema,
    check: d.check,
    sampled: d.sampled,
    source: d.source,
    quantities: d.quantities,
    initialState: d.initialState,
    step: d.step,
    late: d.late,
    tick: d.tick,
    tickUnseen: d.tickUnseen === true,
    resume: d.resume,
    conditionActive: d.conditionActive,
    activeLevel: d.activeLevel,
    severity: d.severity,
    describe: d.describe,
  };
}

// ---------------------------------------------------------------- helpers

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
/** a clock-aligned interval closes by `tick` this long after its end: readings of it may still be in flight */
export const INTERVAL_CLOSE_GRACE_MS = 5_000;

export function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export function unitOf(q: string): string {
  const u = (QUANTITIES as Record<string, { unit: string }>)[q]?.unit ?? '';
  return u === '' ? '' : u === '%' || u === '°C' ? u : ` ${u}`;
}

/** A rule's severity; 3 for a kind with per-level severities. */
export function ruleSeverity(rule: object): Severity {
  return 'severity' in rule ? (rule.severity as Severity) : 3;
}

/** A quantity's value; a non-finite number (which the contract rejects anyway) counts as absent. */
export function valueOf(input: RuleInput, q: Quantity): number | undefined {
  const v = input.values[q];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Observes, first forgetting running exceedances when the data has a gap longer than holdS. */
export function observeAfterGap(
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

function transitionOf(change: LevelChange, defs: readonly LevelDef[], levels: LevelState, at: number, text: Describer, fallbackSeverity: Severity): ConditionTransition {
  if (change.to !== null) {
    const value = lastValueOf(levels, change.to);
    const t: ConditionTransition = { to: 'active', at, level: change.to.name, severity: change.to.severity, limit: change.to.limit, message: text.describe(change.to, value) };
    if (value !== undefined) t.value = value;
    return t;
  }
  const name = change.from ?? '';
  const prev = defs.find((d) => d.name === name);
  return { to: 'inactive', at, level: name, severity: prev?.severity ?? fallbackSeverity, message: text.describeEnd(name) };
}

/**
 * A rule's levels, built once per rule object: they are asked for on every
 * reading, and rules are immutable values (an edit installs new objects).
 */
export function memoDefs<R extends object>(build: (rule: R) => LevelDef[]): (rule: R) => readonly LevelDef[] {
  const cache = new WeakMap<R, readonly LevelDef[]>();
  return (rule) => {
    let defs = cache.get(rule);
    if (defs === undefined) cache.set(rule, (defs = build(rule)));
    return defs;
  };
}

/** The delays of a level kind's rule. */
export interface LevelRule {
  onDelayS: number;
  offDelayS: number;
  holdS: number;
}

/** Lets on/off delays decide at `at`; a change becomes a transition with the kind's texts. */
export function decided<S extends { levels: LevelState }, R extends LevelRule>(
  s: S,
  defs: readonly LevelDef[],
  rule: R,
  at: number,
  text: (rule: R, state: S) => Describer,
): { state: S; transition?: ConditionTransition } {
  const d = decide(s.levels, defs, rule.onDelayS * 1000, rule.offDelayS * 1000, at);
  // nothing decided (the common case): no copy — a spread over the state union is a slow, megamorphic clone on the hot path
  if (d === null) return { state: s };
  const state = { ...s, levels: d.state };
  return { state, transition: transitionOf(d.change, defs, d.state, at, text(rule, state), ruleSeverity(rule)) };
}

/** Lets delays expire at `now` only while the last observation is at most holdS old. */
export function decideIfFresh<S extends { levels: LevelState }, R extends LevelRule>(
  s: S,
  defs: readonly LevelDef[],
  rule: R,
  now: number,
  text: (rule: R, state: S) => Describer,
): { state: S; transition?: ConditionTransition } {
  if (s.levels.lastT === null || now - s.levels.lastT > rule.holdS * 1000) return { state: s };
  return decided(s, defs, rule, now, text);
}

/** The condition of a level kind: a confirmed level. */
export function levelsActive(s: { levels: LevelState }): boolean {
  return s.levels.confirmed !== null;
}

export function confirmedLevel(s: { levels: LevelState }): string {
  return s.levels.confirmed ?? '';
}
