/**
 * The default `spool-loss` rule on the agent spool's reports: any
 * rise of `lost_readings` raises it, a repeat of the same count does not,
 * backfill never does, and it returns to normal once the window holds no
 * lower count.
 */
import { describe, expect, it } from 'vitest';
import { parseRules, step, tick, type Rule, type RuleState } from '../../server/rules/index.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 1);

function spoolRule(): Rule {
  const r = parseRules({});
  if (!r.ok) throw new Error('defaults');
  const rule = r.rules.find((x) => x.id === 'spool-loss');
  if (!rule) throw new Error('no spool-loss default');
  return rule;
}

describe('default rule spool-loss', () => {
  it('raises on a rise of lost_readings after an outage of a day, not on the same count or on backfill, and clears when the week has passed', () => {
    const rule = spoolRule();
    let s: RuleState | undefined;
    const at = (t: number, lost: number, late = false) => {
      const res = step(s, { ts: t, values: { lost_readings: lost }, q: 'good', ...(late ? { late } : {}) }, rule, t);
      s = res.state;
      return res.transition;
    };
    // hourly reports of no loss, then the link is down for a day
    for (let h = 0; h < 5; h++) expect(at(T0 + h * HOUR, 0)).toBeUndefined();
    // the report made when the loss happened arrives late: backfill, not alarmed on
    expect(at(T0 + 20 * HOUR, 1234, true)).toBeUndefined();
    // the live report after reconnecting raises it
    const raised = at(T0 + 29 * HOUR, 1234);
    expect(raised).toMatchObject({ to: 'active', level: 'rise', severity: 2 });
    // the same count again changes nothing
    expect(at(T0 + 30 * HOUR, 1234)).toBeUndefined();
    // a week of the same count: the zero has left the window
    let cleared;
    for (let h = 31; h < 31 + 7 * 24 && !cleared; h++) cleared = at(T0 + h * HOUR, 1234) ?? tick(s, rule, T0 + h * HOUR).transition;
    expect(cleared).toMatchObject({ to: 'inactive' });
  });
});
