/**
 * counter_backwards (电能表倒走): an energy register lower than on the
 * meter's previous reading. A register only counts up; going back is a
 * meter fault, a register reset or roll-over, a replaced meter, or
 * tampering — and every energy figure across it needs a look.
 *
 * Criterion (State Grid smart-meter event list: 示值下降, configurable): a
 * reading whose `counters` (ep_imp, ep_exp) value is more than `toleranceKwh`
 * (0.01, one register step) below the previous reading's; the condition ends
 * after `offDelayS` (600 s) of readings that do not go back.
 */
import { z } from 'zod';
import { defineHealthKind, healthKeys, num, r2, type HealthState } from './meter-health.ts';
import { oneOrMany } from './fields.ts';

export const CounterBackwardsRuleSchema = z.strictObject({
  ...healthKeys({ severity: 3, onDelayS: 0, offDelayS: 600 }),
  kind: z.literal('counter_backwards'),
  counters: oneOrMany(z.enum(['ep_imp', 'ep_exp'])).default(['ep_imp', 'ep_exp']),
  toleranceKwh: z.number().nonnegative().default(0.01),
});
export type CounterBackwardsRule = z.output<typeof CounterBackwardsRuleSchema>;
/** mem: the previous reading's value of each of the rule's counters (NaN-free: -1 = not seen) */
export type CounterBackwardsState = HealthState<'counter_backwards'>;

export const counterBackwards = defineHealthKind({
  kind: 'counter_backwards',
  schema: CounterBackwardsRuleSchema,
  quantities: (rule) => rule.counters,
  judge: (input, rule, s, _t, _active, out) => {
    let seen = false;
    let changed = false;
    let what = '';
    let value = 0;
    for (let k = 0; k < rule.counters.length; k++) {
      const c = num(input, rule.counters[k]!);
      if (c === undefined) continue;
      seen = true;
      const before = s.mem[k] ?? -1;
      if (c !== before) changed = true;
      if (before >= 0 && c < before - rule.toleranceKwh && what === '') {
        what = rule.counters[k]!;
        value = c - before;
      }
    }
    if (!seen) return false;
    if (changed) {
      // a new array: the state's own may be shared with an earlier (pure) state
      const mem: number[] = [];
      for (let k = 0; k < rule.counters.length; k++) mem.push(num(input, rule.counters[k]!) ?? s.mem[k] ?? -1);
      out.mem = mem;
    }
    out.holds = what !== '';
    out.value = value;
    out.what = what;
    return true;
  },
  limit: (rule) => -rule.toleranceKwh,
  message: (_rule, what, v) => `energy register ${what} went backwards (示值下降) by ${r2(-v)} kWh`,
  endMessage: (rule) => `energy registers counting forward for ${rule.offDelayS} s`,
});
