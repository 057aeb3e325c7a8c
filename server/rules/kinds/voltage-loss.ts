/**
 * voltage_loss (失压): one phase's voltage far below the reference while that
 * phase's current flows — the meter's voltage circuit is open (a loose lead,
 * a blown voltage fuse) and the energy of that phase goes unmetered.
 *
 * Criterion (State Grid smart-meter event list, thresholds configurable): a
 * phase voltage below `lossPct` (78 %) of `referenceV` while that phase's
 * current is above `currentPct` (0.5 %) of the basic current `basicCurrentA`,
 * for `onDelayS` (60 s); it ends when every phase is back above `restorePct`
 * (85 %). A phase without current never starts it (no load, or the supply
 * itself is off: that is the outage rule's). On a meter with several phases
 * it is one phase's loss: while no phase is above `restorePct` the supply
 * itself is low (u-deviation, 低电压), not the meter's voltage circuit.
 */
import { z } from 'zod';
import type { SemanticIssue } from './fields.ts';
import { PHASES, defineHealthKind, healthKeys, num, percent, positive, r2, type HealthState } from './meter-health.ts';

export const VoltageLossRuleSchema = z.strictObject({
  ...healthKeys({ severity: 3, onDelayS: 60, offDelayS: 0 }),
  kind: z.literal('voltage_loss'),
  referenceV: positive.default(220),
  lossPct: percent.default(78),
  restorePct: percent.default(85),
  basicCurrentA: positive.default(5),
  currentPct: percent.default(0.5),
});
export type VoltageLossRule = z.output<typeof VoltageLossRuleSchema>;
export type VoltageLossState = HealthState<'voltage_loss'>;

function check(rule: VoltageLossRule): SemanticIssue[] {
  return rule.restorePct > rule.lossPct ? [] : [{ path: ['restorePct'], message: `must be greater than lossPct (${rule.lossPct})` }];
}

export const voltageLoss = defineHealthKind({
  kind: 'voltage_loss',
  schema: VoltageLossRuleSchema,
  check,
  quantities: () => ['ua', 'ub', 'uc'],
  judge: (input, rule, _s, _t, active, out) => {
    const limitV = (rule.referenceV * (active ? rule.restorePct : rule.lossPct)) / 100;
    const minA = (rule.basicCurrentA * rule.currentPct) / 100;
    const healthyV = (rule.referenceV * rule.restorePct) / 100;
    let seen = 0;
    let healthy = 0;
    let what = '';
    let value = Infinity;
    for (let k = 0; k < PHASES.length; k++) {
      const ph = PHASES[k]!;
      const u = num(input, ph.u);
      if (u === undefined) continue;
      seen++;
      if (u > healthyV) healthy++;
      if (!(u < limitV) || u >= value) continue;
      // starting needs the phase's current; once active, only the voltage's return ends it
      const i = num(input, ph.i);
      if (!active && !(i !== undefined && i > minA)) continue;
      value = u;
      what = ph.name;
    }
    if (seen === 0) return false;
    // several phases, none healthy: the supply is low, not one phase of the meter lost
    if (seen > 1 && healthy === 0) what = '';
    out.holds = what !== '';
    out.value = what === '' ? 0 : value;
    out.what = what;
    return true;
  },
  limit: (rule) => r2((rule.referenceV * rule.lossPct) / 100),
  message: (rule, what, v) =>
    `voltage loss (失压) on phase ${what.toUpperCase()}: ${r2(v)} V < ${rule.lossPct} % of ${rule.referenceV} V while its current flows, for ${rule.onDelayS} s`,
  endMessage: (rule) => `voltage back above ${rule.restorePct} % of ${rule.referenceV} V on every phase`,
});
