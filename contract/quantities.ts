/**
 * Canonical quantities of the wire contract (docs/contract.md, Quantities).
 * Every value on the wire and in the store is named by one of these keys.
 *
 * `min`/`max` are plausibility bounds: a value outside them is not a reading
 * of a real distribution network but a broken meter, a mis-scaled register or
 * hostile input, and is rejected at the server boundary. They are wide on
 * purpose (a 35 kV line is still inside) — limits that raise alarms belong to
 * the rules, not here.
 */
export interface QuantitySpec {
  readonly unit: string;
  readonly min: number;
  readonly max: number;
  /** derived on the server, never sent by an agent */
  readonly derived?: true;
  /** a 0/1 state rather than a measurement */
  readonly state?: true;
  /** a count: only whole numbers are plausible */
  readonly integer?: true;
  /** what it is, where the unit alone does not say */
  readonly description?: string;
}

const V = { unit: 'V', min: 0, max: 100_000 } as const;
const A = { unit: 'A', min: 0, max: 100_000 } as const;
const KW = { unit: 'kW', min: -1_000_000, max: 1_000_000 } as const;
const KWH = { unit: 'kWh', min: 0, max: 1e12 } as const;
const STATE = { unit: '', min: 0, max: 1, state: true } as const;
const TEMP = { unit: '°C', min: -60, max: 300 } as const;

export const QUANTITIES = {
  ua: V, ub: V, uc: V,
  uab: V, ubc: V, uca: V,
  ia: A, ib: A, ic: A, in: A,
  p: KW, pa: KW, pb: KW, pc: KW,
  q: { unit: 'kvar', min: -1_000_000, max: 1_000_000 },
  s: { unit: 'kVA', min: 0, max: 1_000_000 },
  pf: { unit: '', min: -1, max: 1 },
  f: { unit: 'Hz', min: 0, max: 100 },
  ep_imp: KWH, ep_exp: KWH,
  load_rate: { unit: '%', min: 0, max: 10_000, derived: true },
  u_unbalance: { unit: '%', min: 0, max: 100, derived: true },
  i_unbalance: { unit: '%', min: 0, max: 100, derived: true },
  temp: TEMP,
  humidity: { unit: '%', min: 0, max: 100 },
  t_oil: TEMP, t_winding: TEMP,
  door: STATE, water: STATE, smoke: STATE,
  // New quantities go at the end: the embedded store adds a column per quantity to an existing table in this order.
  lost_readings: {
    unit: 'readings',
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
    description:
      'readings an agent dropped unsent because its spool overflowed its quota: cumulative since the spool was created, on the pseudo-device `<agent>.spool` (spoolDeviceId)',
  },
  clock_offset: {
    unit: 's',
    min: -1e9,
    max: 1e9,
    description:
      "the meter's own clock minus the agent's when it was read, s (DL/T 645 date and time, 04000101 and 04000102, read by a profile with `clock`); sent now and then, not with every reading",
  },
  phase_seq_rev: {
    ...STATE,
    description:
      "1 while the meter reports its voltages in reverse phase sequence (DL/T 645 meter running status word 7, 04000507, bit 0 电压逆相序, read by a profile with `status`), 0 otherwise; sent now and then, not with every reading",
  },
} as const satisfies Record<string, QuantitySpec>;

export type Quantity = keyof typeof QUANTITIES;
export const QUANTITY_NAMES = Object.keys(QUANTITIES) as Quantity[];

export function isQuantity(name: string): name is Quantity {
  return Object.prototype.hasOwnProperty.call(QUANTITIES, name);
}

/** Quantities an agent may send (everything but the server-derived ones). */
export const MEASURED_QUANTITIES = QUANTITY_NAMES.filter(
  (q) => !(QUANTITIES[q] as QuantitySpec).derived,
);
