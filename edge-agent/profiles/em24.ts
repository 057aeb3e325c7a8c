/**
 * Carlo Gavazzi EM24 three-phase meter: input
 * registers (FC 04), INT32 with the *low word first* (CDAB); PF and Hz are
 * INT16. Scales: V ÷10, A ÷1000, W ÷10 (so kW is ×0.0001), PF ÷1000, Hz ÷10,
 * kWh ÷10.
 *
 * Reads stay within the address runs of the register list (maxGap 8 joins the
 * voltages and currents, and PF with Hz); how far the meter answers between
 * them depends on the firmware, so the profile does not bet on it.
 */
import type { DeviceProfileInput } from './schema.ts';

type Reg = DeviceProfileInput['registers'][number];
const i32 = (quantity: Reg['quantity'], address: number, scale: number): Reg => ({ quantity, address, fc: 4, type: 'int32', wordOrder: 'CDAB', scale });
const i16 = (quantity: Reg['quantity'], address: number, scale: number): Reg => ({ quantity, address, fc: 4, type: 'int16', scale });

export const em24Profile: DeviceProfileInput = {
  id: 'em24',
  description: 'Carlo Gavazzi EM24, FC 04 INT32 low word first, INT16 PF and Hz',
  maxGap: 8,
  registers: [
    i32('ua', 0x00, 0.1), i32('ub', 0x02, 0.1), i32('uc', 0x04, 0.1),
    i32('ia', 0x0c, 0.001), i32('ib', 0x0e, 0.001), i32('ic', 0x10, 0.001),
    i32('pa', 0x12, 0.0001), i32('pb', 0x14, 0.0001), i32('pc', 0x16, 0.0001),
    i32('p', 0x28, 0.0001),
    i16('pf', 0x35, 0.001),
    i16('f', 0x37, 0.1),
    i32('ep_imp', 0x42, 0.1),
    i32('ep_exp', 0x5c, 0.1),
  ],
};
