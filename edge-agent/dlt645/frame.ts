/**
 * DL/T 645-2007 frames (§4 of the standard, "帧格式"):
 *
 *   [FE×0..4]  68  A0 A1 A2 A3 A4 A5  68  C  L  DATA×L  CS  16
 *
 * - FE: wake-up preamble sent before a frame so a receiver's UART settles; a
 *   receiver ignores it.
 * - A0..A5: the meter address, 12 BCD digits, lowest byte first. AA in the
 *   high bytes is a wildcard (AA×6: whoever is on the bus); 99×6 is broadcast.
 * - C: control code. D7 direction (1 = reply from the meter), D6 abnormal
 *   reply, D5 follow-up frames come, D4..D0 the function.
 * - L: data length; reads carry at most 200 bytes (§4.5).
 * - DATA: every byte sent +33H (mod 256), taken back −33H on receipt.
 * - CS: sum of every byte from the first 68 to the last data byte, mod 256.
 *
 * Pure functions; the streaming decoder is in decoder.ts.
 */

export const FRAME_START = 0x68;
export const FRAME_END = 0x16;
export const PREAMBLE_BYTE = 0xfe;
/** the most wake-up bytes a master sends before a frame (§4.1) */
export const MAX_PREAMBLE = 4;
/** L ≤ 200 for reads (§4.5) */
export const MAX_DATA_LENGTH = 200;
/** 68 + 6 address + 68 + C + L before the data, CS + 16 after it */
export const FRAME_OVERHEAD = 12;
export const DATA_OFFSET = 0x33;

/** Function codes of the control byte (bits D4..D0) this code speaks. */
export const FUNCTION = {
  /** broadcast time sync: address 99×6, no reply */
  TIME_SYNC: 0x08,
  /** read data: DI0..DI3 */
  READ: 0x11,
  /** read the next frame of a reply that said follow-up frames come: DI0..DI3, SEQ */
  READ_NEXT: 0x12,
  /** read the communication address: address AA×6, a single meter on the bus */
  READ_ADDRESS: 0x13,
} as const;

export const CONTROL_REPLY = 0x80;
export const CONTROL_ABNORMAL = 0x40;
export const CONTROL_FOLLOW_UP = 0x20;

/** AA×6: any meter (read the address of the only meter on a bus) */
export const WILDCARD_ADDRESS = 'AAAAAAAAAAAA';
/** 99×6: every meter (time sync) */
export const BROADCAST_ADDRESS = '999999999999';

export interface Dlt645Frame {
  /** 12 hex digits, most significant byte (A5) first, as printed on a meter's plate: "000012345678" */
  address: string;
  control: number;
  /** the data field as the meter means it (−33H already taken off) */
  data: Uint8Array;
}

export interface ControlBits {
  reply: boolean;
  abnormal: boolean;
  followUp: boolean;
  /** D4..D0 */
  fn: number;
}

export function controlBits(c: number): ControlBits {
  return { reply: (c & CONTROL_REPLY) !== 0, abnormal: (c & CONTROL_ABNORMAL) !== 0, followUp: (c & CONTROL_FOLLOW_UP) !== 0, fn: c & 0x1f };
}

const ADDRESS_RE = /^(?:[0-9]{2}|AA){6}$/;

/** 12 decimal digits, or with AA byte pairs as wildcards, or 99×6. */
export function isAddress(s: string): boolean {
  return ADDRESS_RE.test(s.toUpperCase());
}

/** "000012345678" → the six address bytes in wire order (A0 first). */
export function addressBytes(address: string): Uint8Array {
  const a = address.toUpperCase();
  if (!ADDRESS_RE.test(a)) throw new RangeError(`a DL/T 645 address is 12 digits (AA as a wildcard byte), got "${address}"`);
  const out = new Uint8Array(6);
  for (let i = 0; i < 6; i++) out[5 - i] = parseInt(a.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The six address bytes (A0 first) as 12 hex digits, A5 first. */
export function addressString(bytes: ArrayLike<number>, offset = 0): string {
  let s = '';
  for (let i = 5; i >= 0; i--) s += bytes[offset + i]!.toString(16).toUpperCase().padStart(2, '0');
  return s;
}

export function checksum(bytes: ArrayLike<number>, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += bytes[i]!;
  return sum & 0xff;
}

/** A whole frame on the wire: `preamble` FE bytes, then the frame with the data +33H and its checksum. */
export function encodeFrame(frame: Dlt645Frame, preamble = 0): Buffer {
  if (!Number.isInteger(preamble) || preamble < 0 || preamble > MAX_PREAMBLE) throw new RangeError(`preamble: 0..${MAX_PREAMBLE} FE bytes, got ${preamble}`);
  if (frame.data.length > MAX_DATA_LENGTH) throw new RangeError(`data: at most ${MAX_DATA_LENGTH} bytes, got ${frame.data.length}`);
  if (!Number.isInteger(frame.control) || frame.control < 0 || frame.control > 0xff) throw new RangeError(`control: a byte, got ${frame.control}`);
  const b = Buffer.alloc(preamble + FRAME_OVERHEAD + frame.data.length, PREAMBLE_BYTE);
  let o = preamble;
  b[o++] = FRAME_START;
  b.set(addressBytes(frame.address), o);
  o += 6;
  b[o++] = FRAME_START;
  b[o++] = frame.control;
  b[o++] = frame.data.length;
  for (const d of frame.data) b[o++] = (d + DATA_OFFSET) & 0xff;
  b[o] = checksum(b, preamble, o);
  b[o + 1] = FRAME_END;
  return b;
}

/** Data identifier "02010100" (DI3 DI2 DI1 DI0, as the standard writes it) → its four bytes in wire order (DI0 first). */
export function identifierBytes(di: string): Uint8Array {
  if (!/^[0-9A-Fa-f]{8}$/.test(di)) throw new RangeError(`a data identifier is 8 hex digits (DI3 DI2 DI1 DI0), got "${di}"`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) out[3 - i] = parseInt(di.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Four identifier bytes in wire order → "02010100". */
export function identifierString(bytes: ArrayLike<number>, offset = 0): string {
  let s = '';
  for (let i = 3; i >= 0; i--) s += bytes[offset + i]!.toString(16).toUpperCase().padStart(2, '0');
  return s;
}

export function readRequest(address: string, di: string): Dlt645Frame {
  return { address, control: FUNCTION.READ, data: identifierBytes(di) };
}

/** The request for frame `seq` (1, 2, …) of a reply that said more frames follow. */
export function readNextRequest(address: string, di: string, seq: number): Dlt645Frame {
  const data = new Uint8Array(5);
  data.set(identifierBytes(di));
  data[4] = seq & 0xff;
  return { address, control: FUNCTION.READ_NEXT, data };
}

export function readAddressRequest(): Dlt645Frame {
  return { address: WILDCARD_ADDRESS, control: FUNCTION.READ_ADDRESS, data: new Uint8Array(0) };
}

/** Broadcast time sync: ss mm hh DD MM YY as BCD, lowest first, in the meter's local time (§7.5). */
export function timeSyncRequest(local: { year: number; month: number; day: number; hour: number; minute: number; second: number }): Dlt645Frame {
  const bcd = (n: number) => ((Math.floor(n / 10) % 10) << 4) | n % 10;
  const { year, month, day, hour, minute, second } = local;
  return { address: BROADCAST_ADDRESS, control: FUNCTION.TIME_SYNC, data: Uint8Array.from([second, minute, hour, day, month, year % 100].map(bcd)) };
}

/** Bits of the error byte of an abnormal reply (§7.1.3, "错误信息字 ERR"). */
export const ERROR_BITS = [
  [0x01, 'other_error', 'other error'],
  [0x02, 'no_data', 'no data requested (the meter does not have this identifier)'],
  [0x04, 'unauthorized', 'password error or not authorised'],
  [0x08, 'baud_fixed', 'baud rate cannot be changed'],
  [0x10, 'year_zones_exceeded', 'year time zones exceeded'],
  [0x20, 'day_periods_exceeded', 'day periods exceeded'],
  [0x40, 'tariffs_exceeded', 'tariffs exceeded'],
] as const;

export type MeterErrorName = (typeof ERROR_BITS)[number][1];

/** The error byte of an abnormal reply as names and a sentence; bit 7 is reserved and reported as such. */
export function decodeErrorByte(err: number): { names: MeterErrorName[]; text: string } {
  const names: MeterErrorName[] = [];
  const words: string[] = [];
  for (const [bit, name, text] of ERROR_BITS) {
    if (err & bit) {
      names.push(name);
      words.push(text);
    }
  }
  if (err & 0x80) words.push('reserved bit 7 set');
  if (words.length === 0) words.push('no error bit set');
  return { names, text: `${words.join('; ')} (ERR 0x${err.toString(16).toUpperCase().padStart(2, '0')})` };
}
