/**
 * outage: loss of all phase voltages of a meter. Per device only "dark" is
 * tracked here; correlateOutages (../outage.ts) turns the device states and
 * the topology into alarms.
 */
import { z } from 'zod';
import type { Quality } from '../../../contract/index.ts';
import { initialLevels, type LevelDef, type LevelState } from '../levels.ts';
import type { RuleState } from '../registry.ts';
import { confirmedLevel, decideIfFresh, decided, defineKind, levelsActive, memoDefs, observeAfterGap, round, valueOf, type ConditionTransition, type Describer, type RuleInput, type StepResult } from './common.ts';
import { common, delays, oneOrMany, quantity, seconds, severity } from './fields.ts';

/**
 * Loss of all phase voltages of a meter (the largest phase below
 * `darkBelowV`; back when above `darkBelowV + deadband`). Per device, the
 * engine only tracks "dark"; `correlateOutages` turns the device states and
 * the topology into alarms: every meter under a transformer dark = one alarm
 * on the transformer. `commLossIsDark`: count a meter the agent cannot reach
 * as dark (for meters powered from the circuit they measure).
 * `minDarkShare`: the share of a transformer's meters that must be dark (and
 * none live) for a transformer outage.
 */
export const OutageRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('outage'),
  phases: oneOrMany(quantity).default(['ua', 'ub', 'uc']),
  darkBelowV: z.number().positive().default(22),
  deadband: z.number().nonnegative().default(10),
  commLossIsDark: z.boolean().default(false),
  minDarkShare: z.number().positive().max(1).default(1),
  /**
   * After supply returns, a meter's other alarms stay suppressed this long:
   * its voltage alarms need a 1-min mean and their off-delay to clear, and
   * should not annunciate as if they were news.
   */
  releaseS: seconds.default(600),
  severity: severity.default(1),
  ...delays,
});
export type OutageRule = z.output<typeof OutageRuleSchema>;

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

function describe(rule: OutageRule): Describer {
  return {
    describe: (_d: LevelDef, v: number | undefined) => `all phase voltages lost (${v === undefined ? '?' : round(v)} V < ${rule.darkBelowV} V)`,
    describeEnd: () => 'phase voltages back',
  };
}

function isOutage(state: RuleState | undefined): state is OutageState {
  return state !== undefined && state.kind === 'outage';
}

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
  return restored(decided(next, defs, rule, t, describe), now);
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
  if (!isOutage(state)) return { status: 'unknown', restoredAt: null };
  return { status: supplyStatusOf(state, rule, now), restoredAt: state.restoredAt };
}

function supplyStatusOf(state: RuleState | undefined, rule: OutageRule, now: number): 'dark' | 'live' | 'unknown' {
  if (!isOutage(state)) return 'unknown';
  if (state.levels.confirmed === 'dark') return 'dark';
  if (state.lastQ !== 'good' || state.lastAt === null || now - state.lastAt > rule.holdS * 1000) return 'unknown';
  return state.levels.beyondSince['dark'] === undefined ? 'live' : 'unknown';
}

export const outage = defineKind({
  kind: 'outage',
  schema: OutageRuleSchema,
  sampled: false,
  source: 'device',
  initialState: (): OutageState => ({ kind: 'outage', lastTs: null, levels: initialLevels(), lastQ: null, lastAt: null, restoredAt: null }),
  step: stepOutage,
  tick: (s, rule, now) => restored(decideIfFresh(s, outageDefs(rule), rule, now, describe), now),
  conditionActive: levelsActive,
  activeLevel: confirmedLevel,
  severity: (rule) => rule.severity,
  describe,
});
