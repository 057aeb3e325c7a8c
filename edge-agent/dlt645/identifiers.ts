/**
 * Data identifiers of DL/T 645-2007 that the agent knows the format of
 * (Appendix A, "数据标识编码表"), written DI3 DI2 DI1 DI0 as the standard
 * does. A block identifier (DI1 = FF) reads the same quantity for every phase
 * in one request, the elements in the order of the single identifiers.
 *
 * `quantities` are the canonical quantities of the wire contract each element
 * maps to; `null` where the contract has no such quantity (per-phase reactive
 * power and power factor), which a profile may read but never sends.
 */
import type { Quantity } from '../../contract/index.ts';
import type { BcdFormat } from './bcd.ts';

export interface KnownIdentifier {
  di: string;
  /** what the standard calls it */
  name: string;
  unit: string;
  /** the format of one element */
  format: BcdFormat;
  quantities: readonly (Quantity | null)[];
}

const V: BcdFormat = { bytes: 2, decimals: 1, signed: false }; // XXX.X V
const A: BcdFormat = { bytes: 3, decimals: 3, signed: true }; // XXX.XXX A, the sign is the direction
const KW: BcdFormat = { bytes: 3, decimals: 4, signed: true }; // XX.XXXX kW / kvar / kVA
const PF: BcdFormat = { bytes: 2, decimals: 3, signed: true }; // X.XXX
const HZ: BcdFormat = { bytes: 2, decimals: 2, signed: false }; // XX.XX Hz
const KWH: BcdFormat = { bytes: 4, decimals: 2, signed: false }; // XXXXXX.XX kWh

const one = (di: string, name: string, unit: string, format: BcdFormat, q: Quantity | null): KnownIdentifier => ({ di, name, unit, format, quantities: [q] });

export const KNOWN_IDENTIFIERS: readonly KnownIdentifier[] = [
  one('02010100', 'phase A voltage', 'V', V, 'ua'),
  one('02010200', 'phase B voltage', 'V', V, 'ub'),
  one('02010300', 'phase C voltage', 'V', V, 'uc'),
  { di: '0201FF00', name: 'voltage block (A, B, C)', unit: 'V', format: V, quantities: ['ua', 'ub', 'uc'] },
  one('02020100', 'phase A current', 'A', A, 'ia'),
  one('02020200', 'phase B current', 'A', A, 'ib'),
  one('02020300', 'phase C current', 'A', A, 'ic'),
  { di: '0202FF00', name: 'current block (A, B, C)', unit: 'A', format: A, quantities: ['ia', 'ib', 'ic'] },
  one('02030000', 'total active power', 'kW', KW, 'p'),
  one('02030100', 'phase A active power', 'kW', KW, 'pa'),
  one('02030200', 'phase B active power', 'kW', KW, 'pb'),
  one('02030300', 'phase C active power', 'kW', KW, 'pc'),
  { di: '0203FF00', name: 'active power block (total, A, B, C)', unit: 'kW', format: KW, quantities: ['p', 'pa', 'pb', 'pc'] },
  one('02040000', 'total reactive power', 'kvar', KW, 'q'),
  one('02040100', 'phase A reactive power', 'kvar', KW, null),
  one('02040200', 'phase B reactive power', 'kvar', KW, null),
  one('02040300', 'phase C reactive power', 'kvar', KW, null),
  one('02050000', 'total apparent power', 'kVA', KW, 's'),
  one('02060000', 'total power factor', '', PF, 'pf'),
  one('02060100', 'phase A power factor', '', PF, null),
  one('02060200', 'phase B power factor', '', PF, null),
  one('02060300', 'phase C power factor', '', PF, null),
  one('02800001', 'neutral current', 'A', A, 'in'),
  one('02800002', 'grid frequency', 'Hz', HZ, 'f'),
  one('00010000', 'forward active energy, total', 'kWh', KWH, 'ep_imp'),
  one('00020000', 'reverse active energy, total', 'kWh', KWH, 'ep_exp'),
];

const BY_DI = new Map(KNOWN_IDENTIFIERS.map((k) => [k.di, k]));

export function knownIdentifier(di: string): KnownIdentifier | undefined {
  return BY_DI.get(di.toUpperCase());
}
