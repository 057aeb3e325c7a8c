/**
 * stale: comm-loss, no good reading from a device for a while, measured on
 * the server's clock.
 */
import { z } from 'zod';
import type { Quality } from '../../../contract/index.ts';
import { defineKind, type RuleInput, type StepResult } from './common.ts';
import { common, positiveSeconds, severity } from './fields.ts';

/**
 * No good reading for `afterS` seconds, or, without `afterS`, for
 * `intervals` × `pollIntervalS`. Measured on the server's clock (`now`), not
 * the reading's timestamp: a dead meter is about what the server has
 * received. A restart of the evaluator does not count as silence.
 */
export const StaleRuleSchema = z.strictObject({
  ...common,
  kind: z.literal('stale'),
  afterS: positiveSeconds.optional(),
  intervals: z.number().int().positive().default(10),
  pollIntervalS: positiveSeconds.default(1),
  severity: severity.default(3),
});
export type StaleRule = z.output<typeof StaleRuleSchema>;

export interface StaleState {
  kind: 'stale';
  active: boolean;
  /** server time (now) of the last good live reading */
  lastGoodAt: number | null;
  /** server time from which silence is counted: last good reading, first sight, or resume */
  refAt: number;
  lastQ: Quality | null;
}

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

function stepStale(s: StaleState, input: RuleInput, rule: StaleRule, _t: number, now: number, own: boolean): StepResult {
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
function heardLate(s: StaleState, input: RuleInput, _rule: StaleRule, now: number, own: boolean): StepResult {
  if (input.q !== 'good' || s.active || s.refAt >= now) return { state: s };
  if (!own) return { state: { ...s, refAt: now } };
  s.refAt = now;
  return { state: s };
}


export const stale = defineKind({
  kind: 'stale',
  schema: StaleRuleSchema,
  sampled: false,
  source: 'device',
  initialState: (_rule, now): StaleState => ({ kind: 'stale', active: false, lastGoodAt: null, refAt: now, lastQ: null }),
  // silence is about what the server has received: `now`, not the reading's time
  step: stepStale,
  late: heardLate,
  tick: staleCheck,
  tickUnseen: true,
  // the time the server was down is not silence of the meters (an active condition stays active)
  resume: (s, _rule, now) => (s.active ? s : { ...s, refAt: Math.max(s.refAt, now) }),
  conditionActive: (s) => s.active,
  activeLevel: () => 'stale',
  severity: (rule) => rule.severity,
  describe: (rule) => ({ describe: () => rule.kind, describeEnd: () => rule.kind }),
});
