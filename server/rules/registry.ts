/**
 * The rule kinds: kind → descriptor (kinds/common.ts, KindDescriptor). The
 * rules file's schema (schema.ts), the engine's entry points (engine.ts) and
 * the alarm service ask this map; nothing else lists the kinds.
 *
 * A new kind is one file in kinds/ exporting its descriptor (schema, state,
 * step, tick, texts, …), its line in KINDS and its state in RuleState here,
 * and its test (docs/alarms.md,
 * Adding a rule kind). The order here is the order error messages list them.
 */
import type { z } from 'zod';
import type { KindDescriptor } from './kinds/common.ts';
import type { Severity } from './kinds/fields.ts';
import { anomaly, type AnomalyState } from './kinds/anomaly.ts';
import { call, type CallState } from './kinds/call.ts';
import { lineLoss, type LineLossState } from './kinds/line-loss.ts';
import { outage, type OutageState } from './kinds/outage.ts';
import { rateOfChange, type RateOfChangeState } from './kinds/rate-of-change.ts';
import { stale, type StaleState } from './kinds/stale.ts';
import { threshold, type ThresholdState } from './kinds/threshold.ts';
import { unbalance, type UnbalanceState } from './kinds/unbalance.ts';
import { voltageLoss, type VoltageLossState } from './kinds/voltage-loss.ts';
import { currentLoss, type CurrentLossState } from './kinds/current-loss.ts';
import { reverseFlow, type ReverseFlowState } from './kinds/reverse-flow.ts';
import { counterStuck, type CounterStuckState } from './kinds/counter-stuck.ts';
import { counterBackwards, type CounterBackwardsState } from './kinds/counter-backwards.ts';
import { offHours, type OffHoursState } from './kinds/off-hours.ts';

export const KINDS = {
  threshold,
  rate_of_change: rateOfChange,
  stale,
  unbalance,
  anomaly,
  outage,
  call,
  voltage_loss: voltageLoss,
  current_loss: currentLoss,
  reverse_flow: reverseFlow,
  counter_stuck: counterStuck,
  counter_backwards: counterBackwards,
  off_hours: offHours,
  line_loss: lineLoss,
} as const;

export type RuleKind = keyof typeof KINDS;
export const RULE_KINDS = Object.keys(KINDS) as RuleKind[];

/** A parsed rule of any kind (the output of its kind's schema). */
export type Rule = { [K in RuleKind]: z.output<(typeof KINDS)[K]['schema']> }[RuleKind];
/**
 * Per-(rule, source) state: plain JSON, persisted so delays and baselines
 * survive a restart. Listed by name, not derived from KINDS: a step's result
 * holds a RuleState, so deriving it from the descriptors would be circular.
 */
export type RuleState =
  | ThresholdState | RateOfChangeState | StaleState | UnbalanceState | AnomalyState | OutageState | CallState
  | VoltageLossState | CurrentLossState | ReverseFlowState | CounterStuckState | CounterBackwardsState | OffHoursState | LineLossState;

/** A descriptor with its kind's types erased, as the dispatcher calls it. */
export type AnyKind = KindDescriptor<RuleKind, z.ZodType<Rule>, RuleState>;

const BY_KIND: Readonly<Record<string, AnyKind | undefined>> = KINDS as unknown as Record<string, AnyKind>;

/** The descriptor of a kind; undefined for a name that is no kind. */
export function kindOf(kind: string): AnyKind | undefined {
  return Object.hasOwn(BY_KIND, kind) ? BY_KIND[kind] : undefined;
}

/** The descriptor of a valid rule's or state's kind. */
export function descriptorOf(kind: RuleKind): AnyKind {
  return BY_KIND[kind]!;
}

/** Whether a kind is judged on a device's readings (its ticks run on the device's clock). */
export function isSampled(kind: string): boolean {
  return kindOf(kind)?.sampled === true;
}

/** Whether a kind's alarms are on a site rather than a device (the one-key call). */
export function isSiteKind(kind: string): boolean {
  return kindOf(kind)?.source === 'site';
}

const JUDGED = new WeakMap<object, readonly string[] | null>();

/**
 * The quantities a rule judges (its kind's `quantities`), or null when any
 * reading may matter to it; once per rule object (rules are immutable values).
 * A caller may skip a live reading that carries none of them: its step would
 * change nothing (docs/alarms.md, Adding a rule kind).
 */
export function judgedQuantities(rule: Readonly<Rule>): readonly string[] | null {
  let qs = JUDGED.get(rule);
  if (qs === undefined) {
    const k = descriptorOf(rule.kind);
    JUDGED.set(rule, (qs = k.quantities ? k.quantities(rule as Rule) : null));
  }
  return qs;
}

/** Whether `values` carry one of `qs` (null: any reading). */
export function carriesAny(values: Readonly<Record<string, unknown>>, qs: readonly string[] | null): boolean {
  if (qs === null) return true;
  for (let i = 0; i < qs.length; i++) if (values[qs[i]!] !== undefined) return true;
  return false;
}

/** The most urgent severity a rule can raise. */
export function mostUrgentSeverity(rule: Readonly<Rule>): Severity {
  return descriptorOf(rule.kind).severity(rule as Rule);
}
