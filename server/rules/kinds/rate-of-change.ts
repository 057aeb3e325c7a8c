/**
 * rate_of_change: the current value against the smallest (rise) or largest
 * (fall) value of a sliding window.
 */
import { z } from 'zod';
import { initialLevels, type LevelDef, type LevelState } from '../levels.ts';
import { confirmedLevel, decideIfFresh, decided, defineKind, levelsActive, memoDefs, observeAfterGap, round, unitOf, valueOf, type Describer, type RuleInput, type StepResult } from './common.ts';
import { common, delays, positiveSeconds, quantity, severity, type SemanticIssue } from './fields.ts';

/**
 * Change over a sliding window: the current value against the smallest
 * (rise) or largest (fall) value of the last `windowS` seconds. With both
 * `pct` and `abs` given, both must be exceeded (a 200 % jump from 1 A is not
 * news); `pct` is relative to that earlier value.
 */
export const RateOfChangeRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('rate_of_change'),
  quantity,
  windowS: positiveSeconds.default(60),
  change: z.strictObject({ pct: z.number().positive().optional(), abs: z.number().positive().optional() }),
  direction: z.enum(['rise', 'fall', 'both']).default('both'),
  severity: severity.default(3),
  ...delays,
});
export type RateOfChangeRule = z.output<typeof RateOfChangeRuleSchema>;

export interface RateOfChangeState {
  kind: 'rate_of_change';
  lastTs: number | null;
  levels: LevelState;
  /** min/max of the window in 1/20-window slots: k = floor(ts / slot) */
  slots: { k: number; min: number; max: number }[];
  lastValue: number | null;
}

function check(rule: RateOfChangeRule): SemanticIssue[] {
  return rule.change.pct === undefined && rule.change.abs === undefined ? [{ path: ['change'], message: 'at least one of pct, abs is required' }] : [];
}

function describe(rule: RateOfChangeRule, state: RateOfChangeState): Describer {
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

function stepRoc(s: RateOfChangeState, input: RuleInput, rule: RateOfChangeRule, t: number, _now: number, own: boolean): StepResult {
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
  if (!own) return decided<RateOfChangeState, RateOfChangeRule>({ kind: 'rate_of_change', lastTs: t, levels, slots, lastValue: v }, defs, rule, t, describe);
  s.lastTs = t;
  s.levels = levels;
  s.slots = slots;
  s.lastValue = v;
  return decided(s, defs, rule, t, describe);
}


function tickRoc(s: RateOfChangeState, rule: RateOfChangeRule, now: number): StepResult {
  return decideIfFresh(s, rocDefs(rule), rule, now, describe);
}

export const rateOfChange = defineKind({
  kind: 'rate_of_change',
  schema: RateOfChangeRuleSchema,
  check,
  sampled: true,
  source: 'device',
  quantities: (rule) => [rule.quantity],
  initialState: (): RateOfChangeState => ({ kind: 'rate_of_change', lastTs: null, levels: initialLevels(), slots: [], lastValue: null }),
  step: stepRoc,
  tick: tickRoc,
  conditionActive: levelsActive,
  activeLevel: confirmedLevel,
  severity: (rule) => rule.severity,
  describe,
});
