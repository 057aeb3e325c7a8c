/**
 * CHINT DTSU666 three-phase meter: FC 03, IEEE-754
 * float32, high word first. The floats hold scaled integers, so `scale` takes
 * them to canonical units: V/10, A/1000, W×10 → kW is ×0.0001 (var → kvar
 * likewise), PF/1000, Hz/100; kWh as is.
 *
 * Per-phase reactive power (0x201C..) and PF (0x202C..) are in the meter but
 * not in the wire contract, so they are not read; the planner still reads
 * across them (`maxGap`) because the meter answers the whole
 * 0x2000–0x2045 block in one request.
 */
import type { DeviceProfileInput } from './schema.ts';

type Reg = DeviceProfileInput['registers'][number];
const f32 = (quantity: Reg['quantity'], address: number, scale: number): Reg => ({
  quantity, address, fc: 3, type: 'float32', wordOrder: 'ABCD', scale,
});

/** Import-energy total: 0x401E in most manuals, 0x101E on some firmware. */
export function dtsu666Profile(importKwhAddress: 0x401e | 0x101e = 0x401e): DeviceProfileInput {
  return {
    id: importKwhAddress === 0x401e ? 'dtsu666' : 'dtsu666-101e',
    description: `CHINT DTSU666, import kWh at 0x${importKwhAddress.toString(16).toUpperCase()}`,
    // 0x202C..0x2043 (24 registers: per-phase PF and others) lie between PF total and frequency
    maxGap: 24,
    registers: [
      f32('uab', 0x2000, 0.1), f32('ubc', 0x2002, 0.1), f32('uca', 0x2004, 0.1),
      f32('ua', 0x2006, 0.1), f32('ub', 0x2008, 0.1), f32('uc', 0x200a, 0.1),
      f32('ia', 0x200c, 0.001), f32('ib', 0x200e, 0.001), f32('ic', 0x2010, 0.001),
      f32('p', 0x2012, 0.0001), f32('pa', 0x2014, 0.0001), f32('pb', 0x2016, 0.0001), f32('pc', 0x2018, 0.0001),
      f32('q', 0x201a, 0.0001),
      f32('pf', 0x202a, 0.001),
      f32('f', 0x2044, 0.01),
      f32('ep_imp', importKwhAddress, 1),
      f32('ep_exp', 0x4028, 1),
    ],
  };
}
