/**
 * Carlo Gavazzi EM24 register map: input registers
 * (FC 04), INT32 low word first (word-swapped), PF and Hz INT16. Stored as
 * V×10, A×1000, W×10 (kW×10 000), PF×1000, Hz×10, kWh×10.
 */
import type { ModelQuantity } from './meter-model.ts';
import type { RegisterMap, RegisterType, SimRegister } from './register-map.ts';

const MAP: ReadonlyArray<readonly [ModelQuantity, number, RegisterType, number]> = [
  ['ua', 0x00, 'int32', 10], ['ub', 0x02, 'int32', 10], ['uc', 0x04, 'int32', 10],
  ['uab', 0x06, 'int32', 10], ['ubc', 0x08, 'int32', 10], ['uca', 0x0a, 'int32', 10],
  ['ia', 0x0c, 'int32', 1000], ['ib', 0x0e, 'int32', 1000], ['ic', 0x10, 'int32', 1000],
  ['pa', 0x12, 'int32', 10_000], ['pb', 0x14, 'int32', 10_000], ['pc', 0x16, 'int32', 10_000],
  ['p', 0x28, 'int32', 10_000],
  ['pfa', 0x32, 'int16', 1000], ['pfb', 0x33, 'int16', 1000], ['pfc', 0x34, 'int16', 1000], ['pf', 0x35, 'int16', 1000],
  ['f', 0x37, 'int16', 10],
  ['ep_imp', 0x42, 'int32', 10],
  ['ep_exp', 0x5c, 'int32', 10],
];

export function em24RegisterMap(): RegisterMap {
  const registers: SimRegister[] = MAP.map(([quantity, address, type, factor]) => ({
    quantity, address, fc: 4, type, wordOrder: 'CDAB', factor, integer: true,
  }));
  return { name: 'em24', registers, blocks: [{ fc: 4, start: 0x00, end: 0x60 }] };
}
