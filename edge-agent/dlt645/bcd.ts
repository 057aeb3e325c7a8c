/**
 * DL/T 645 values: packed BCD, lowest byte first (§5, "数据格式"). A signed
 * value keeps its sign in the highest bit of its most significant byte (the
 * last one on the wire); the other 7 bits of that byte are still two BCD
 * digits (so the top digit of a signed value is 0..7). A nibble above 9 is not
 * a number: the meter sent something we must not guess at.
 */

export interface BcdFormat {
  /** bytes on the wire */
  bytes: number;
  /** digits after the decimal point: XXX.X is 1 */
  decimals: number;
  /** the top bit of the last byte is the sign */
  signed: boolean;
}

export type BcdResult = { ok: true; value: number } | { ok: false; reason: string };

/**
 * Decodes `format.bytes` bytes at `offset`. The value is the integer of the
 * digits divided by 10^decimals: an integer and a power of ten are both exact
 * doubles, so the quotient is the double nearest the decimal the meter meant
 * (231.5, not 231.49999…).
 */
export function decodeBcd(data: ArrayLike<number>, offset: number, format: BcdFormat): BcdResult {
  const { bytes, decimals, signed } = format;
  if (offset < 0 || offset + bytes > data.length) return { ok: false, reason: `needs ${bytes} bytes at ${offset}, the data has ${data.length}` };
  let n = 0;
  let negative = false;
  for (let i = bytes - 1; i >= 0; i--) {
    let b = data[offset + i]!;
    if (signed && i === bytes - 1) {
      negative = (b & 0x80) !== 0;
      b &= 0x7f;
    }
    const hi = b >> 4;
    const lo = b & 0x0f;
    if (hi > 9 || lo > 9) {
      const hex = Array.from({ length: bytes }, (_, k) => data[offset + bytes - 1 - k]!.toString(16).toUpperCase().padStart(2, '0')).join(' ');
      return { ok: false, reason: `not BCD: byte ${i} is 0x${data[offset + i]!.toString(16).toUpperCase().padStart(2, '0')} (value bytes, most significant first: ${hex})` };
    }
    n = n * 100 + hi * 10 + lo;
  }
  const value = decimals > 0 ? n / 10 ** decimals : n;
  // −0 is 0: a meter that sets the sign on a zero current means no current
  return { ok: true, value: negative && value !== 0 ? -value : value };
}

/** Encodes `value` in `format` (for requests and tests); throws when it does not fit. */
export function encodeBcd(value: number, format: BcdFormat): Uint8Array {
  const { bytes, decimals, signed } = format;
  const n = Math.round(Math.abs(value) * 10 ** decimals);
  const digits = n.toString();
  const max = signed ? 8 * 10 ** (2 * bytes - 1) - 1 : 10 ** (2 * bytes) - 1;
  if (!Number.isFinite(value) || n > max) throw new RangeError(`${value} does not fit ${bytes} BCD bytes with ${decimals} decimals`);
  if (value < 0 && !signed) throw new RangeError(`${value} is negative and the format has no sign`);
  const padded = digits.padStart(2 * bytes, '0');
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) {
    const pair = padded.slice(2 * (bytes - 1 - i), 2 * (bytes - i));
    out[i] = (Number(pair[0]) << 4) | Number(pair[1]);
  }
  if (signed && value < 0 && n !== 0) out[bytes - 1]! |= 0x80;
  return out;
}
