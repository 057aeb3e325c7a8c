/**
 * off_hours: a room's 0/1 state (the door contact, by default) active outside
 * working hours — a distribution-room door opened at night or at the weekend
 * is an intrusion until someone says otherwise; during working hours it is
 * the crew at work.
 *
 * Working hours are `hours.start`–`hours.end` (local `HH:MM`, the end not
 * included; an end before the start spans midnight) on the weekdays `days`
 * (1 = Monday … 7 = Sunday), in the zone `utcOffsetMin` (480, China Standard
 * Time). The state counts as active above 0.5. The condition is judged on
 * each report: a door left open past the end of the day raises at its next
 * report (room sensors report at least once a minute).
 */
import { z } from 'zod';
import type { SemanticIssue } from './fields.ts';
import { defineHealthKind, healthKeys, num, type HealthState } from './meter-health.ts';

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a local time HH:MM');

export const OffHoursRuleSchema = z.strictObject({
  ...healthKeys({ severity: 3, onDelayS: 0, offDelayS: 5 }),
  kind: z.literal('off_hours'),
  quantity: z.enum(['door', 'water', 'smoke']).default('door'),
  hours: z.strictObject({ start: HHMM.default('08:00'), end: HHMM.default('18:00') }).prefault({}),
  days: z.array(z.number().int().min(1).max(7)).max(7).default([1, 2, 3, 4, 5]),
  utcOffsetMin: z.number().int().min(-720).max(840).default(480),
});
export type OffHoursRule = z.output<typeof OffHoursRuleSchema>;
export type OffHoursState = HealthState<'off_hours'>;

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** Whether epoch ms `t` falls in the rule's working hours (in its zone). */
export function inWorkingHours(rule: OffHoursRule, t: number): boolean {
  const local = new Date(t + rule.utcOffsetMin * 60_000);
  const day = local.getUTCDay() === 0 ? 7 : local.getUTCDay();
  if (!rule.days.includes(day)) return false;
  const m = local.getUTCHours() * 60 + local.getUTCMinutes();
  const start = minutesOf(rule.hours.start);
  const end = minutesOf(rule.hours.end);
  return start <= end ? m >= start && m < end : m >= start || m < end;
}

function check(rule: OffHoursRule): SemanticIssue[] {
  return rule.hours.start === rule.hours.end && rule.days.length > 0 ? [{ path: ['hours', 'end'], message: 'must differ from hours.start (leave days empty for "always outside hours")' }] : [];
}

export const offHours = defineHealthKind({
  kind: 'off_hours',
  schema: OffHoursRuleSchema,
  check,
  quantities: (rule) => [rule.quantity],
  judge: (input, rule, _s, t, _active, out) => {
    const v = num(input, rule.quantity);
    if (v === undefined) return false;
    out.holds = v > 0.5 && !inWorkingHours(rule, t);
    out.value = v;
    out.what = rule.quantity;
    return true;
  },
  limit: () => 0.5,
  message: (rule, what) => `${what} active outside working hours (${rule.hours.start}–${rule.hours.end}, days ${rule.days.join(',') || 'none'}, UTC${rule.utcOffsetMin >= 0 ? '+' : '−'}${Math.abs(rule.utcOffsetMin) / 60})`,
  endMessage: (_rule, what) => `${what} back to normal, or working hours began`,
});
