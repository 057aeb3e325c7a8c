/**
 * From a rule's condition transition to the alarm operation it implies.
 * Pure; kept apart so engine.ts and alarm.ts do not depend on each other.
 */
import { alarmId, type AlarmOp } from './alarm.ts';
import type { ConditionTransition } from './engine.ts';

/**
 * `active` → raise (at the transition's level and severity), `inactive` → clear,
 * on alarm `ruleId:source`. `suppress`: the source is suppressed by design
 * (reason), so the raise lands hidden. Apply it at `transition.at`.
 */
export function toAlarmOp(ruleId: string, source: string, transition: ConditionTransition, suppress?: string): AlarmOp {
  const id = alarmId(ruleId, source);
  if (transition.to === 'inactive') return { op: 'clear', alarmId: id };
  const op: AlarmOp = { op: 'raise', alarmId: id, severity: transition.severity, level: transition.level, message: transition.message };
  const detail: { value?: number; limit?: number } = {};
  if (transition.value !== undefined) detail.value = transition.value;
  if (transition.limit !== undefined) detail.limit = transition.limit;
  if (Object.keys(detail).length) op.detail = detail;
  if (suppress !== undefined) op.suppress = suppress;
  return op;
}
