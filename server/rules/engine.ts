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
import { ruleSeverity, type RuleInput, type StepResult } from './kinds/common.ts';
import { descriptorOf, type Rule, type RuleState } from './registry.ts';

// Each kind's evaluation lives in kinds/<kind>.ts; the functions here dispatch through registry.ts.
export type { ConditionTransition, RuleInput, StepResult } from './kinds/common.ts';
export { INTERVAL_CLOSE_GRACE_MS } from './kinds/common.ts';
export type { RuleState } from './registry.ts';
export type { MeanBucket, ThresholdState } from './kinds/threshold.ts';
export type { RateOfChangeState } from './kinds/rate-of-change.ts';
export { staleAfterMs, type StaleState } from './kinds/stale.ts';
export type { UnbalanceState } from './kinds/unbalance.ts';
export { timeOfDayBucket, type AnomalyState, type BaselineBucket, type OpenBucket } from './kinds/anomaly.ts';
export { supplyOf, supplyStatus, type OutageState } from './kinds/outage.ts';
export type { CallState } from './kinds/call.ts';

/** A one-key call as a rule input (the call message carries no values). */
export function callInput(ts: number, late = false): RuleInput {
  return late ? { ts, values: {}, q: 'good', late } : { ts, values: {}, q: 'good' };
}

/** A fresh state for a rule; `now` starts the stale rule's silence count. */
export function initialState(rule: Rule, now: number): RuleState {
  return descriptorOf(rule.kind).initialState(rule, now);
}

/** Whether the state's condition is active (an alarm should be raised for it). */
export function conditionActive(state: RuleState): boolean {
  return descriptorOf(state.kind).conditionActive(state);
}

function disabled(state: RuleState | undefined, rule: Rule, now: number): StepResult {
  const k = descriptorOf(rule.kind);
  const fresh = k.initialState(rule, now);
  if (state === undefined || state.kind !== rule.kind || !k.conditionActive(state)) return { state: fresh };
  return { state: fresh, transition: { to: 'inactive', at: now, level: k.activeLevel(state), severity: ruleSeverity(rule), message: 'rule disabled' } };
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
  const k = descriptorOf(rule.kind);
  const same = state !== undefined && state.kind === rule.kind ? state : undefined;
  if (input.late === true) {
    // backfill is not live: only a kind that asks for late readings (stale) sees them
    if (k.late !== undefined) return k.late(same ?? k.initialState(rule, now), input, rule, now, own);
    return { state: state ?? k.initialState(rule, now) };
  }
  if (!Number.isFinite(input.ts)) return { state: state ?? k.initialState(rule, now) };
  return k.step(same ?? k.initialState(rule, now), input, rule, readingTime(input.ts, now), now, own);
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
  const k = descriptorOf(rule.kind);
  if (state !== undefined && state.kind === rule.kind) return k.tick(state, rule, now);
  // a source without state: the stale rule checks it from a fresh state (a meter that never reported), the others only start one
  return k.tickUnseen === true ? k.tick(k.initialState(rule, now), rule, now) : { state: k.initialState(rule, now) };
}

/**
 * Call once per persisted state when the evaluator starts again. The time the
 * server was down is not silence of the meters: a stale count restarts from
 * `now` (an already active stale condition stays active). Running on-delays
 * and baselines continue as they were; a gap longer than holdS in the
 * readings themselves breaks continuity as usual.
 */
export function resume(state: RuleState, rule: Rule, now: number): RuleState {
  const k = descriptorOf(rule.kind);
  return k.resume !== undefined && state.kind === rule.kind ? k.resume(state, rule, now) : state;
}
