/**
 * Acrel ADW300 three-phase meter: holding registers
 * (FC 03). Voltages uint16 ×0.1 V, currents uint16 ×0.01 A, powers int32,
 * energies int32 ×0.01 kWh.
 *
 * The register list gives no scale and no word order for the int32 powers; this
 * profile takes them as W (so ×0.001 to kW), high word first (ABCD), which is
 * Acrel's usual convention. A firmware that differs gets its own profile file.
 */
import type { DeviceProfileInput } from './schema.ts';

type Reg = DeviceProfileInput['registers'][number];
const u16 = (quantity: Reg['quantity'], address: number, scale: number): Reg => ({ quantity, address, fc: 3, type: 'uint16', scale });
const i32 = (quantity: Reg['quantity'], address: number, scale: number): Reg => ({ quantity, address, fc: 3, type: 'int32', wordOrder: 'ABCD', scale });

export const adw300Profile: DeviceProfileInput = {
  id: 'adw300',
  description: 'Acrel ADW300, FC 03 uint16/int32 scaled; powers taken as W, ABCD',
  maxGap: 4,
  registers: [
    u16('ua', 20, 0.1), u16('ub', 21, 0.1), u16('uc', 22, 0.1),
    u16('ia', 26, 0.01), u16('ib', 27, 0.01), u16('ic', 28, 0.01),
    i32('pa', 30, 0.001), i32('pb', 32, 0.001), i32('pc', 34, 0.001),
    i32('p', 36, 0.001),
    i32('ep_imp', 62, 0.01),
    i32('ep_exp', 64, 0.01),
  ],
};
