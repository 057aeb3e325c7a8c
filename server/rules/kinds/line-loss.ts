/**
 * line_loss: judges a transformer area's line-loss figures (server/energy,
 * docs/energy.md, Alarms). Its source is the area, `site/transformer`; its
 * input is one figure per closed interval (lineLossInput), not a reading.
 *
 * - high: loss above limitPct for `intervals` consecutive complete
 *   intervals (theft, wrong wiring: 10 % for 4 × 15 min by default);
 * - negative: loss below limitPct (−1 %): more sold than supplied, a
 *   metering or topology error (a customer under the wrong transformer);
 * - incomplete: the area's data incomplete for `intervals` intervals
 *   (a day by default); an interval in which no meter of the area reported
 *   at all is no figure (the comm-loss rules speak for silent meters).
 * An incomplete interval neither counts towards nor ends a high or negative
 * condition (there is no figure); one complete interval outside the limit
 * ends it. Figures of intervals older than the last judged are ignored (a
 * recomputation of last week raises nothing now); the last interval is
 * judged again when it had no figure before (late readings completed it).
 */
import { z } from 'zod';
import { defineKind, type RuleInput, type StepResult } from './common.ts';
import { common, severity } from './fields.ts';

export const LineLossRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('line_loss'),
  condition: z.enum(['high', 'negative', 'incomplete']),
  /** which figures it judges: 15-min, hourly or daily */
  interval: z.enum(['15m', '1h', '1d']).default('15m'),
  /** high: loss % above it; negative: below it (not used by incomplete) */
  limitPct: z.number().min(-100).max(100).default(0),
  /** consecutive intervals the condition must hold */
  intervals: z.number().int().positive().max(10_000).default(1),
  severity: severity.default(3),
});
export type LineLossRule = z.output<typeof LineLossRuleSchema>;

export interface LineLossState {
  kind: 'line_loss';
  active: boolean;
  /** consecutive intervals the condition held */
  count: number;
  /** start (epoch ms) of the last interval judged: a figure computed again is not counted twice */
  lastStart: number | null;
  /** whether that interval gave a figure to judge: one without (readings still missing) is judged when computed again */
  lastJudged: boolean;
}

/** A line-loss figure as the rule's input; `ts` is the interval's end. */
export function lineLossInput(f: { interval: string; start: number; end: number; complete: boolean; lossPct: number | null; missing: readonly string[]; meters: number }): RuleInput {
  return { ts: f.end, values: {}, q: 'good', lineLoss: { interval: f.interval, start: f.start, complete: f.complete, lossPct: f.lossPct, missing: f.missing, meters: f.meters } };
}

/** true: the condition holds; false: it does not; null: no figure to tell */
function holds(rule: LineLossRule, f: NonNullable<RuleInput['lineLoss']>): boolean | null {
  // incomplete data = some of the area's meters lack readings. No meter reported at all: no figure to judge
  // (the comm-loss rules speak for silent meters). No meter missing but no figure: the area cannot have one by
  // its make-up (no transformer or sales meters, no supply) or a meter was replaced: not missing data either.
  if (rule.condition === 'incomplete') return f.complete ? false : f.missing.length === 0 || f.missing.length >= f.meters ? null : true;
  if (!f.complete || f.lossPct === null) return null;
  return rule.condition === 'high' ? f.lossPct > rule.limitPct : f.lossPct < rule.limitPct;
}

function text(rule: LineLossRule, f: NonNullable<RuleInput['lineLoss']>): string {
  const n = rule.intervals > 1 ? ` for ${rule.intervals} intervals of ${rule.interval}` : ` (${rule.interval})`;
  if (rule.condition === 'incomplete') return `line-loss data incomplete${n}: ${f.missing.length ? `missing ${f.missing.slice(0, 5).join(', ')}${f.missing.length > 5 ? ` and ${f.missing.length - 5} more` : ''}` : 'no figure'}`;
  const dir = rule.condition === 'high' ? 'above' : 'below';
  return `line loss ${f.lossPct} % ${dir} ${rule.limitPct} %${n}${rule.condition === 'negative' ? ': metering or topology error' : ''}`;
}

function stepLineLoss(s: LineLossState, input: RuleInput, rule: LineLossRule, t: number): StepResult {
  const f = input.lineLoss;
  if (!f || f.interval !== rule.interval || (s.lastStart !== null && (f.start < s.lastStart || (f.start === s.lastStart && s.lastJudged)))) return { state: s };
  const h = holds(rule, f);
  if (h === null) return { state: { ...s, lastStart: f.start, lastJudged: false } };
  if (!h) {
    const next: LineLossState = { kind: 'line_loss', active: false, count: 0, lastStart: f.start, lastJudged: true };
    if (!s.active) return { state: next };
    return { state: next, transition: { to: 'inactive', at: t, level: rule.condition, severity: rule.severity, message: rule.condition === 'incomplete' ? 'line-loss data complete again' : `line loss back inside the limit (${f.lossPct} %)` } };
  }
  const count = s.count + 1;
  const next: LineLossState = { kind: 'line_loss', active: s.active || count >= rule.intervals, count, lastStart: f.start, lastJudged: true };
  if (s.active || !next.active) return { state: next };
  const tr: StepResult['transition'] = { to: 'active', at: t, level: rule.condition, severity: rule.severity, message: text(rule, f) };
  if (f.lossPct !== null && rule.condition !== 'incomplete') {
    tr.value = f.lossPct;
    tr.limit = rule.limitPct;
  }
  return { state: next, transition: tr };
}

export const lineLoss = defineKind({
  kind: 'line_loss',
  schema: LineLossRuleSchema,
  sampled: false,
  // on an area (`site/transformer`), never on a device's readings
  source: 'site',
  initialState: (): LineLossState => ({ kind: 'line_loss', active: false, count: 0, lastStart: null, lastJudged: false }),
  step: stepLineLoss,
  tick: (s) => ({ state: s }),
  conditionActive: (s) => s.active,
  activeLevel: (s) => (s.active ? 'line_loss' : ''),
  severity: (rule) => rule.severity,
  describe: (rule) => ({ describe: () => rule.kind, describeEnd: () => rule.kind }),
});
