/**
 * Pure decoding of Modbus read results into values. No I/O, no clock.
 *
 * Modbus itself only defines 16-bit registers sent big-endian (Modbus
 * Application Protocol v1.1b3 §4.2); how a 32-bit value spans two registers is
 * the vendor's choice, so word order is per register in the profile:
 * ABCD = high word first (DTSU666, SDM630), CDAB = low word first (EM24).
 */
import type { Quantity, Values } from '../contract/index.ts';
import { QUANTITIES } from '../contract/quantities.ts';

export const REGISTER_TYPES = ['bool', 'uint16', 'int16', 'uint32', 'int32', 'float32'] as const;
/** `bool` is a coil (FC 01) or discrete input (FC 02); the others are registers (FC 03/04). */
export type RegisterType = (typeof REGISTER_TYPES)[number];
export const WORD_ORDERS = ['ABCD', 'CDAB'] as const;
export type WordOrder = (typeof WORD_ORDERS)[number];
/** The only function codes the agent ever sends: reads (docs/security.md). */
export const READ_FUNCTION_CODES = [1, 2, 3, 4] as const;
export type ReadFunctionCode = (typeof READ_FUNCTION_CODES)[number];

export interface RegisterSpec {
  readonly quantity: Quantity;
  /** 0-based PDU address */
  readonly address: number;
  readonly fc: ReadFunctionCode;
  readonly type: RegisterType;
  readonly wordOrder: WordOrder;
  /** value = raw × scale (DTSU666 voltage: 0.1) */
  readonly scale: number;
}

/** Addresses one value occupies: 1 bit for bool, 1 register for 16-bit types, 2 for 32-bit. */
export function registerWidth(type: RegisterType): 1 | 2 {
  return type === 'uint32' || type === 'int32' || type === 'float32' ? 2 : 1;
}

/** 4 bytes to assemble 32-bit values in; decoding is synchronous, so one is enough (and it is on the hot path) */
const SCRATCH = new DataView(new ArrayBuffer(4));

/**
 * The raw number held by the register(s) at `offset` of a block of 16-bit
 * words (unsigned, as modbus-serial returns them).
 */
export function decodeRaw(words: ArrayLike<number>, offset: number, type: Exclude<RegisterType, 'bool'>, wordOrder: WordOrder): number {
  const w0 = words[offset];
  if (w0 === undefined) throw new RangeError(`register at offset ${offset} is outside the block of ${words.length}`);
  if (type === 'uint16') return w0 & 0xffff;
  if (type === 'int16') return ((w0 & 0xffff) << 16) >> 16;
  const w1 = words[offset + 1];
  if (w1 === undefined) throw new RangeError(`32-bit register at offset ${offset} runs past the block of ${words.length}`);
  const dv = SCRATCH;
  dv.setUint16(0, (wordOrder === 'ABCD' ? w0 : w1) & 0xffff);
  dv.setUint16(2, (wordOrder === 'ABCD' ? w1 : w0) & 0xffff);
  switch (type) {
    case 'uint32':
      return dv.getUint32(0);
    case 'int32':
      return dv.getInt32(0);
    case 'float32':
      return shortestFloat32(dv.getFloat32(0));
    default: {
      const never: never = type;
      throw new Error(`unknown register type ${String(never)}`);
    }
  }
}

/**
 * The shortest decimal that is the same float32: 12345.6 stored as float32 is
 * 12345.599609375 as a double, which is noise the meter never measured.
 */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  // below 2^24 every integer is a float32, and it is its own shortest decimal
  if (Number.isInteger(x) && Math.abs(x) < 16_777_216) return x;
  // fast path: the fewest decimals that give the same float32. An integer over
  // a power of ten is correctly rounded, so it is the double nearest that
  // decimal, as parsing it would be. Fewest decimals = fewest digits here.
  const ax = Math.abs(x);
  if (ax >= 1e-3 && ax < 1e15) {
    let p = 1;
    for (let d = 0; d <= 12; d++, p *= 10) {
      const c = Math.round(x * p) / p;
      if (Math.fround(c) === x) return c;
    }
  }
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(x.toPrecision(digits));
    if (Math.fround(candidate) === x) return candidate;
  }
  return x;
}

/**
 * raw × scale, dividing instead when the scale is 1/n so decimal scales come
 * out as the decimals they are (2314 × 0.1 = 231.40000000000003, 2314 / 10 =
 * 231.4). A non-integer raw value (a float32 register) can still pick up
 * binary noise in the last digit (7610.3 / 1000 = 7.6103000000000005), so the
 * result is cut to 15 significant digits: a double holds 15.9, the noise sits
 * beyond them, and no meter measures to 15 digits.
 */
export function applyScale(raw: number, scale: number): number {
  if (scale === 1) return raw;
  const inv = 1 / scale;
  const n = Math.round(inv);
  const x = n >= 2 && Math.abs(inv - n) <= 1e-9 * n ? raw / n : raw * scale;
  return Number.isInteger(raw) && n >= 2 ? x : Number(x.toPrecision(15));
}

export interface DecodedBlock {
  values: Values;
  /** quantities whose value was not finite or outside the contract's plausible range, with the value */
  invalid: { quantity: Quantity; value: number }[];
}

/**
 * Decodes every register of a block read. `data` holds 16-bit words for FC
 * 03/04 and 0/1 per bit for FC 01/02, starting at `blockAddress`.
 */
export function decodeBlock(registers: readonly RegisterSpec[], blockAddress: number, data: ArrayLike<number>): DecodedBlock {
  const values: Values = {};
  const invalid: DecodedBlock['invalid'] = [];
  decodeInto(registers, blockAddress, data, values, (quantity, value) => invalid.push({ quantity, value }));
  return { values, invalid };
}

/**
 * decodeBlock into a given object: the poller's path, where the values of a
 * device's reads go straight into its reading. A value that is not finite or
 * outside the contract's plausible range goes to `onInvalid` instead.
 */
export function decodeInto(
  registers: readonly RegisterSpec[],
  blockAddress: number,
  data: ArrayLike<number>,
  values: Values,
  onInvalid: (quantity: Quantity, value: number) => void,
): void {
  for (let i = 0; i < registers.length; i++) {
    const r = registers[i]!;
    const offset = r.address - blockAddress;
    let value: number;
    if (r.type === 'bool') {
      const bit = data[offset];
      if (bit === undefined) throw new RangeError(`bit at offset ${offset} is outside the block of ${data.length}`);
      value = bit ? 1 : 0;
    } else {
      value = applyScale(decodeRaw(data, offset, r.type, r.wordOrder), r.scale);
    }
    const spec = QUANTITIES[r.quantity];
    // a value the server would reject (NaN from a meter still starting, a mis-scaled
    // register) is dropped here, so it does not take the rest of the reading with it
    if (!Number.isFinite(value) || value < spec.min || value > spec.max) onInvalid(r.quantity, value);
    else values[r.quantity] = value;
  }
}
