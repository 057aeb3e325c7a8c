/**
 * Eastron SDM630 three-phase meter: input registers
 * (FC 04), IEEE-754 float32, high word first (ABCD), in plain units — V, A,
 * W, var, VA, Hz, kWh — so power is scaled W → kW (÷1000).
 *
 * Per-phase PF (0x001E..0x0022) is in the meter but not in the wire contract.
 * The meter answers every input register of 0x0000–0x004B, so the planner
 * reads across the gaps (34 registers between Pc and P total) in one request.
 * Eastron documents at most 40 parameters (80 registers) per request.
 */
import type { DeviceProfileInput } from './schema.ts';

type Reg = DeviceProfileInput['registers'][number];
const f32 = (quantity: Reg['quantity'], address: number, scale = 1): Reg => ({ quantity, address, fc: 4, type: 'float32', wordOrder: 'ABCD', scale });

export const sdm630Profile: DeviceProfileInput = {
  id: 'sdm630',
  description: 'Eastron SDM630, FC 04 float32 ABCD, plain units',
  maxGap: 34,
  maxRegistersPerRead: 80,
  registers: [
    f32('ua', 0x0000), f32('ub', 0x0002), f32('uc', 0x0004),
    f32('ia', 0x0006), f32('ib', 0x0008), f32('ic', 0x000a),
    f32('pa', 0x000c, 0.001), f32('pb', 0x000e, 0.001), f32('pc', 0x0010, 0.001),
    f32('p', 0x0034, 0.001),
    f32('s', 0x0038, 0.001),
    f32('q', 0x003c, 0.001),
    f32('pf', 0x003e),
    f32('f', 0x0046),
    f32('ep_imp', 0x0048), f32('ep_exp', 0x004a),
  ],
};
