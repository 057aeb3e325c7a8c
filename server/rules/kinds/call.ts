/**
 * call: the one-key call from a site (一键呼叫, `gridwatch/v1/{site}/call`).
 * Its source is the site, not a device; the input is callInput(ts).
 */
import { z } from 'zod';
import { defineKind, type RuleInput, type StepResult } from './common.ts';
import { common, positiveSeconds, severity } from './fields.ts';

/**
 * The one-key call from a site (一键呼叫, `gridwatch/v1/{site}/call`): raised
 * on each call, its condition stays active for `activeS` after the last
 * press, and the alarm waits for an operator's acknowledgement either way.
 */
export const CallRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('call'),
  severity: severity.default(1),
  activeS: positiveSeconds.default(300),
});
export type CallRule = z.output<typeof CallRuleSchema>;

export interface CallState {
  kind: 'call';
  lastTs: number | null;
  /** the call's condition is active until then (epoch ms); null = inactive */
  activeUntil: number | null;
}

function stepCall(s: CallState, _input: RuleInput, rule: CallRule, t: number): StepResult {
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

export const call = defineKind({
  kind: 'call',
  schema: CallRuleSchema,
  sampled: false,
  source: 'site',
  initialState: (): CallState => ({ kind: 'call', lastTs: null, activeUntil: null }),
  step: stepCall,
  tick: tickCall,
  conditionActive: (s) => s.activeUntil !== null,
  activeLevel: () => 'call',
  severity: (rule) => rule.severity,
  describe: (rule) => ({ describe: () => rule.kind, describeEnd: () => rule.kind }),
});
