/**
 * counter_stuck (电能表停走): the energy register does not advance while
 * power flows — a frozen register, a meter stuck on a stale value, or a
 * metering chain that no longer counts.
 *
 * Criterion (State Grid smart-meter event list: 停走, thresholds
 * configurable): the energy the meter's own power readings imply since the
 * register last changed (∫ p dt, each reading's power held until the next,
 * at most `holdS`) reaches `minKwh` (1 kWh) — and three of the register's
 * own steps (the smallest rise seen: a float32 register of millions of kWh
 * moves in steps of 0.5 kWh or more; ten times `minKwh` until the register
 * has been seen to rise once) — while the register (`counter`,
 * ep_imp; ep_exp counts −p) shows no change. It ends at the first reading on
 * which the register moves on.
 * A register that goes backwards starts the count again (counter_backwards
 * reports that).
 */
import { z } from 'zod';
import { defineHealthKind, healthKeys, num, positive, r2, type HealthState } from './meter-health.ts';

export const CounterStuckRuleSchema = z.strictObject({
  ...healthKeys({ severity: 3, onDelayS: 0, offDelayS: 0 }),
  kind: z.literal('counter_stuck'),
  counter: z.enum(['ep_imp', 'ep_exp']).default('ep_imp'),
  minKwh: positive.default(1),
});
export type CounterStuckRule = z.output<typeof CounterStuckRuleSchema>;
/** mem: [register value, time of the reading, its power (kW, counted direction), kWh implied since the register last changed, smallest rise of the register seen (0: none yet)] */
export type CounterStuckState = HealthState<'counter_stuck'>;

const HOUR_MS = 3_600_000;

export const counterStuck = defineHealthKind({
  kind: 'counter_stuck',
  schema: CounterStuckRuleSchema,
  // the register and the power: judged on readings that have both
  quantities: (rule) => [rule.counter],
  judge: (input, rule, s, t, _active, out) => {
    const c = num(input, rule.counter);
    const p = num(input, 'p');
    if (c === undefined || p === undefined) return false;
    const pDir = Math.max(0, rule.counter === 'ep_imp' ? p : -p);
    const m = s.mem;
    let implied = 0;
    let step = m[4] ?? 0;
    if (m.length >= 4 && c === m[0]) {
      const dt = Math.min(t - m[1]!, rule.holdS * 1000);
      implied = m[3]! + (m[2]! * Math.max(0, dt)) / HOUR_MS;
    } else if (m.length >= 4 && c > m[0]!) {
      step = step === 0 ? c - m[0]! : Math.min(step, c - m[0]!);
    }
    out.holds = implied >= (step === 0 ? 10 * rule.minKwh : Math.max(rule.minKwh, 3 * step));
    out.value = implied;
    out.what = rule.counter;
    out.mem = [c, t, pDir, implied, step];
    return true;
  },
  limit: (rule) => rule.minKwh,
  message: (rule, what, v) => `energy register ${what} stuck (停走): power flowed for ${r2(v)} kWh (≥ ${rule.minKwh} kWh) and the register did not move`,
  endMessage: (_rule, what) => `energy register ${what} advancing again`,
});
