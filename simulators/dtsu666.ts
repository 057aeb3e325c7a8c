/**
 * CHINT DTSU666 three-phase meter register map.
 *
 * FC 03, IEEE-754 float32, big-endian, high word first (ABCD). The floats hold
 * *scaled integers*: V×10, A×1000, W and var ×10 (so kW×10000, kvar×10000),
 * PF×1000, Hz×100; kWh is stored as is.
 */
import type { ModelQuantity } from './meter-model.ts';
import { readRegisters, type ReadResult, type RegisterMap, type SimRegister } from './register-map.ts';
import type { MeterValues } from './meter-model.ts';

/**
 * Where the firmware keeps the import-energy total: 0x401E per most manuals,
 * 0x101E on some firmware (sources give both).
 */
export type Dtsu666ImportKwhAddress = 0x401e | 0x101e;

export interface Dtsu666Options {
  importKwhAddress?: Dtsu666ImportKwhAddress;
}

// quantity → [address, factor]; factor converts the model's unit (V, A, kW, kvar, –, Hz) to the register's
const V = 10;
const A = 1000;
const KW = 10_000; // the register holds W×10
const PF = 1000;
const HZ = 100;

const INSTANT: ReadonlyArray<readonly [ModelQuantity, number, number]> = [
  ['uab', 0x2000, V], ['ubc', 0x2002, V], ['uca', 0x2004, V],
  ['ua', 0x2006, V], ['ub', 0x2008, V], ['uc', 0x200a, V],
  ['ia', 0x200c, A], ['ib', 0x200e, A], ['ic', 0x2010, A],
  ['p', 0x2012, KW], ['pa', 0x2014, KW], ['pb', 0x2016, KW], ['pc', 0x2018, KW],
  ['q', 0x201a, KW], ['qa', 0x201c, KW], ['qb', 0x201e, KW], ['qc', 0x2020, KW],
  ['pf', 0x202a, PF], ['pfa', 0x202c, PF], ['pfb', 0x202e, PF], ['pfc', 0x2030, PF],
  ['f', 0x2044, HZ],
];

const EXPORT_KWH_ADDRESS = 0x4028;

export function dtsu666RegisterMap(opts: Dtsu666Options = {}): RegisterMap {
  const importAt = opts.importKwhAddress ?? 0x401e;
  const reg = (quantity: ModelQuantity, address: number, factor: number, integer: boolean): SimRegister => ({
    quantity, address, fc: 3, type: 'float32', wordOrder: 'ABCD', factor, integer,
  });
  const registers: SimRegister[] = [
    ...INSTANT.map(([q, a, f]) => reg(q, a, f, true)),
    reg('ep_imp', importAt, 1, false),
    reg('ep_exp', EXPORT_KWH_ADDRESS, 1, false),
  ];
  // the instantaneous block and the energy block(s) the meter answers; the
  // unmapped addresses inside them (harmonics, demand, tariffs) read as 0
  const blocks = [
    { fc: 3 as const, start: 0x2000, end: 0x2046 },
    { fc: 3 as const, start: 0x4000, end: 0x4060 },
  ];
  if (importAt === 0x101e) blocks.push({ fc: 3, start: 0x1000, end: 0x1060 });
  return {
    name: importAt === 0x101e ? 'dtsu666 (import kWh at 0x101E)' : 'dtsu666',
    registers,
    blocks,
  };
}

/** Convenience: the register image a DTSU666 answers for one read. */
export function readDtsu666(values: MeterValues, address: number, count: number, opts: Dtsu666Options = {}): ReadResult {
  return readRegisters(dtsu666RegisterMap(opts), values, 3, address, count);
}
