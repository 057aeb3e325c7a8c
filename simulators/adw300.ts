/**
 * Acrel ADW300 register map: holding registers
 * (FC 03). Voltages uint16 V×10, currents uint16 A×100, powers int32 in W
 * high word first, energies int32 kWh×100.
 */
import type { ModelQuantity } from './meter-model.ts';
import type { RegisterMap, RegisterType, SimRegister } from './register-map.ts';

const MAP: ReadonlyArray<readonly [ModelQuantity, number, RegisterType, number]> = [
  ['ua', 20, 'uint16', 10], ['ub', 21, 'uint16', 10], ['uc', 22, 'uint16', 10],
  ['ia', 26, 'uint16', 100], ['ib', 27, 'uint16', 100], ['ic', 28, 'uint16', 100],
  ['pa', 30, 'int32', 1000], ['pb', 32, 'int32', 1000], ['pc', 34, 'int32', 1000],
  ['p', 36, 'int32', 1000],
  ['ep_imp', 62, 'int32', 100],
  ['ep_exp', 64, 'int32', 100],
];

export function adw300RegisterMap(): RegisterMap {
  const registers: SimRegister[] = MAP.map(([quantity, address, type, factor]) => ({
    quantity, address, fc: 3, type, wordOrder: 'ABCD', factor, integer: true,
  }));
  return { name: 'adw300', registers, blocks: [{ fc: 3, start: 0, end: 100 }] };
}
