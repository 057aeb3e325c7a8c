/**
 * reverse_flow (反向潮流): active power flowing backwards through a meter
 * that should only import — on a consumer or line meter without generation
 * behind it, a reversed current transformer or crossed leads (wrong wiring,
 * or tampering); on one phase of three, one reversed CT.
 *
 * Criterion (State Grid smart-meter event list: 潮流反向, thresholds
 * configurable): the total active power `p`, or one phase's (`pa pb pc`),
 * below −`minKw` for `onDelayS` (60 s); it ends when none is below −`minKw`
 * for `offDelayS` (60 s). A meter with PV or storage behind it exports
 * legitimately: leave it out (`except`).
 */
import { z } from 'zod';
import { defineHealthKind, healthKeys, num, positive, r2, type HealthState } from './meter-health.ts';

const POWERS = ['p', 'pa', 'pb', 'pc'] as const;

export const ReverseFlowRuleSchema = z.strictObject({
  ...healthKeys({ severity: 3, onDelayS: 60, offDelayS: 60 }),
  kind: z.literal('reverse_flow'),
  minKw: positive.default(0.1),
});
export type ReverseFlowRule = z.output<typeof ReverseFlowRuleSchema>;
export type ReverseFlowState = HealthState<'reverse_flow'>;

export const reverseFlow = defineHealthKind({
  kind: 'reverse_flow',
  schema: ReverseFlowRuleSchema,
  quantities: () => POWERS,
  judge: (input, rule, _s, _t, _active, out) => {
    let seen = false;
    let what = '';
    let value = 0;
    for (let k = 0; k < POWERS.length; k++) {
      const p = num(input, POWERS[k]!);
      if (p === undefined) continue;
      seen = true;
      if (p < -rule.minKw && p < value) {
        value = p;
        what = POWERS[k]!;
      }
    }
    if (!seen) return false;
    out.holds = what !== '';
    out.value = value;
    out.what = what;
    return true;
  },
  limit: (rule) => -rule.minKw,
  message: (rule, what, v) => `reverse active power (潮流反向): ${what} ${r2(v)} kW < −${rule.minKw} kW on a meter that should only import, for ${rule.onDelayS} s`,
  endMessage: () => 'active power forward again',
});
