/**
 * Eastron SDM630 register map: input registers
 * (FC 04), float32 high word first, plain units (V, A, W, var, VA, Hz, kWh).
 * The meter answers every input register from 0x0000 to 0x004F here; the
 * ones this map leaves out (per-phase VA and var, …) read as 0.
 */
import type { ModelQuantity } from './meter-model.ts';
import type { RegisterMap, SimRegister } from './register-map.ts';

// quantity → [address, factor from the model's unit]; kW → W is ×1000
const MAP: ReadonlyArray<readonly [ModelQuantity, number, number]> = [
  ['ua', 0x0000, 1], ['ub', 0x0002, 1], ['uc', 0x0004, 1],
  ['ia', 0x0006, 1], ['ib', 0x0008, 1], ['ic', 0x000a, 1],
  ['pa', 0x000c, 1000], ['pb', 0x000e, 1000], ['pc', 0x0010, 1000],
  ['pfa', 0x001e, 1], ['pfb', 0x0020, 1], ['pfc', 0x0022, 1],
  ['p', 0x0034, 1000],
  ['s', 0x0038, 1000],
  ['q', 0x003c, 1000],
  ['pf', 0x003e, 1],
  ['f', 0x0046, 1],
  ['ep_imp', 0x0048, 1], ['ep_exp', 0x004a, 1],
];

export function sdm630RegisterMap(): RegisterMap {
  const registers: SimRegister[] = MAP.map(([quantity, address, factor]) => ({
    quantity, address, fc: 4, type: 'float32', wordOrder: 'ABCD', factor, integer: false,
  }));
  return { name: 'sdm630', registers, blocks: [{ fc: 4, start: 0x0000, end: 0x0050 }] };
}
