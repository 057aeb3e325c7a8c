/**
 * current_loss (失流): one phase carries no current while the others do and
 * its voltage is present — the meter's current circuit is open or shorted (a
 * CT secondary bridged, a loose current lead) and that phase's energy goes
 * unmetered.
 *
 * Criterion (State Grid smart-meter event list, thresholds configurable): a
 * phase current below `lossPct` (0.5 %) of the basic current `basicCurrentA`
 * while another phase carries more than `otherPct` (5 %) and the phase's
 * voltage is above `voltagePct` (70 %) of `referenceV`, for `onDelayS` (60 s);
 * it ends when no phase meets it. Needs at least two phase currents (a
 * single-phase meter cannot tell).
 */
import { z } from 'zod';
import { PHASES, defineHealthKind, healthKeys, num, percent, positive, r2, type HealthState } from './meter-health.ts';

export const CurrentLossRuleSchema = z.strictObject({
  ...healthKeys({ severity: 3, onDelayS: 60, offDelayS: 0 }),
  kind: z.literal('current_loss'),
  referenceV: positive.default(220),
  voltagePct: percent.default(70),
  basicCurrentA: positive.default(5),
  lossPct: percent.default(0.5),
  otherPct: percent.default(5),
});
export type CurrentLossRule = z.output<typeof CurrentLossRuleSchema>;
export type CurrentLossState = HealthState<'current_loss'>;

export const currentLoss = defineHealthKind({
  kind: 'current_loss',
  schema: CurrentLossRuleSchema,
  check: (rule) => (rule.otherPct > rule.lossPct ? [] : [{ path: ['otherPct'], message: `must be greater than lossPct (${rule.lossPct})` }]),
  quantities: () => ['ia', 'ib', 'ic'],
  judge: (input, rule, _s, _t, _active, out) => {
    const lossA = (rule.basicCurrentA * rule.lossPct) / 100;
    const otherA = (rule.basicCurrentA * rule.otherPct) / 100;
    const minV = (rule.referenceV * rule.voltagePct) / 100;
    let phases = 0;
    let flowing = 0;
    let what = '';
    let value = 0;
    for (let k = 0; k < PHASES.length; k++) {
      const i = num(input, PHASES[k]!.i);
      if (i === undefined) continue;
      phases++;
      if (i > otherA) flowing++;
      if (what !== '' || !(i < lossA)) continue;
      const u = num(input, PHASES[k]!.u);
      if (u !== undefined && u > minV) {
        what = PHASES[k]!.name;
        value = i;
      }
    }
    if (phases < 2) return false;
    out.holds = what !== '' && flowing > 0;
    out.value = value;
    out.what = what;
    return true;
  },
  limit: (rule) => r2((rule.basicCurrentA * rule.lossPct) / 100),
  message: (rule, what, v) =>
    `current loss (失流) on phase ${what.toUpperCase()}: ${r2(v)} A < ${rule.lossPct} % of ${rule.basicCurrentA} A with its voltage present while another phase carries over ${rule.otherPct} %, for ${rule.onDelayS} s`,
  endMessage: () => 'current back on every phase that has voltage',
});
