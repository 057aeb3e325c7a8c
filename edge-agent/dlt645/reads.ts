/**
 * A DL/T 645 profile as the running agent uses it: every read with its format
 * resolved (profile.ts validates and resolves profile documents when the
 * config is loaded), and decoding a reply's values by it. No schema here:
 * the running agent does not load the validator.
 */
import { QUANTITIES, type Quantity } from '../../contract/quantities.ts';
import type { DeepReadonly } from '../freeze.ts';
import { decodeBcd, type BcdFormat } from './bcd.ts';

/** One read with its format resolved. */
export interface Dlt645Read {
  readonly di: string;
  readonly quantities: readonly (Quantity | null)[];
  readonly format: BcdFormat;
  readonly magnitude: boolean;
  readonly scale: number;
}

export interface Dlt645Profile {
  readonly id: string;
  readonly description?: string;
  readonly reads: readonly Dlt645Read[];
  readonly clock?: { readonly everyS: number; readonly utcOffsetMin: number };
  readonly status?: { readonly everyS: number };
}

export type Dlt645ProfileRegistry = ReadonlyMap<string, DeepReadonly<Dlt645Profile>>;

export type ElementResult =
  | { ok: true; quantity: Quantity; value: number }
  /** a value outside the contract's plausible range: dropped like an implausible Modbus register */
  | { ok: false; kind: 'implausible'; quantity: Quantity; value: number }
  /** not a number at all (a nibble above 9): dropped, with the reason */
  | { ok: false; kind: 'not_bcd'; quantity: Quantity; reason: string };

/**
 * The values of one read's reply data (after its four identifier bytes).
 * Returns null and a reason when the length is not what the profile expects:
 * then nothing in it can be trusted to sit where the profile says.
 */
export function decodeRead(read: Dlt645Read, value: Uint8Array): { ok: true; elements: ElementResult[] } | { ok: false; reason: string } {
  const want = read.format.bytes * read.quantities.length;
  if (value.length !== want) return { ok: false, reason: `identifier ${read.di}: ${value.length} value bytes, the profile expects ${want}` };
  const elements: ElementResult[] = [];
  read.quantities.forEach((q, k) => {
    if (q === null) return;
    const r = decodeBcd(value, k * read.format.bytes, read.format);
    if (!r.ok) {
      elements.push({ ok: false, kind: 'not_bcd', quantity: q, reason: `identifier ${read.di} element ${k}: ${r.reason}` });
      return;
    }
    let v = read.magnitude ? Math.abs(r.value) : r.value;
    // a scale of 1 leaves the decimal exact; another is rounded back to the digits the meter gave (W → kW: 3 more)
    if (read.scale !== 1) v = Number((v * read.scale).toPrecision(15));
    const spec = QUANTITIES[q];
    if (v < spec.min || v > spec.max) elements.push({ ok: false, kind: 'implausible', quantity: q, value: v });
    else elements.push({ ok: true, quantity: q, value: v });
  });
  return { ok: true, elements };
}
