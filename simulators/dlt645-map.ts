/**
 * What a simulated DL/T 645-2007 meter answers: its data identifiers, each
 * the model's quantities in the standard's BCD format, and the frames it
 * sends. Written apart from the edge agent's codec on purpose: the two meet
 * only on the wire, so a shared misreading of the standard cannot hide behind
 * shared code.
 */
import type { Fault, GarbageMode } from './faults.ts';
import type { MeterValues, ModelQuantity } from './meter-model.ts';

export interface SimIdentifier {
  /** DI3 DI2 DI1 DI0 as the standard writes it */
  di: string;
  quantities: readonly ModelQuantity[];
  bytes: number;
  decimals: number;
  signed: boolean;
}

const U = { bytes: 2, decimals: 1, signed: false }; // XXX.X
const I = { bytes: 3, decimals: 3, signed: true }; // XXX.XXX
const P = { bytes: 3, decimals: 4, signed: true }; // XX.XXXX
const COS = { bytes: 2, decimals: 3, signed: true }; // X.XXX
const HZ = { bytes: 2, decimals: 2, signed: false }; // XX.XX
const E = { bytes: 4, decimals: 2, signed: false }; // XXXXXX.XX

const phases = (base: string, qs: readonly ModelQuantity[], fmt: typeof U, totalFirst: boolean): SimIdentifier[] => {
  const out: SimIdentifier[] = [];
  const start = totalFirst ? 0 : 1;
  qs.forEach((q, k) => out.push({ di: `${base}${String(start + k).padStart(2, '0')}00`, quantities: [q], ...fmt }));
  out.push({ di: `${base}FF00`, quantities: qs, ...fmt });
  return out;
};

/** Identifiers of a three-phase meter (DTSU666 in 645 mode and the like). */
export const DLT645_SIM_IDENTIFIERS: readonly SimIdentifier[] = [
  ...phases('0201', ['ua', 'ub', 'uc'], U, false),
  ...phases('0202', ['ia', 'ib', 'ic'], I, false),
  ...phases('0203', ['p', 'pa', 'pb', 'pc'], P, true),
  ...phases('0204', ['q', 'qa', 'qb', 'qc'], P, true),
  { di: '02050000', quantities: ['s'], ...P },
  ...phases('0206', ['pf', 'pfa', 'pfb', 'pfc'], COS, true),
  { di: '02800001', quantities: ['in'], ...I },
  { di: '02800002', quantities: ['f'], ...HZ },
  { di: '00010000', quantities: ['ep_imp'], ...E },
  { di: '00020000', quantities: ['ep_exp'], ...E },
];

const BY_DI = new Map(DLT645_SIM_IDENTIFIERS.map((x) => [x.di, x]));

export function simIdentifier(di: string): SimIdentifier | undefined {
  return BY_DI.get(di);
}

/** the meter running status word 7 (合相故障状态) */
export const STATUS_WORD_7 = '04000507';

/**
 * Status word 7 for the faults in force: 2 bytes of bits (not BCD), lowest
 * byte first. A reversed connection sets bit 0 (电压逆相序) and bit 1
 * (电流逆相序); every other bit stays 0.
 */
export function statusWord7(faults: readonly Fault[]): number[] {
  const word = faults.some((f) => f.kind === 'phase_reversal') ? 0b11 : 0;
  return [word & 0xff, (word >> 8) & 0xff];
}

/** value → BCD bytes, lowest first; a meter saturates at its largest value rather than wrapping. */
export function bcdBytes(value: number, bytes: number, decimals: number, signed: boolean): number[] {
  const digits = 2 * bytes;
  const top = signed ? 8 * 10 ** (digits - 1) - 1 : 10 ** digits - 1;
  const n = Math.min(top, Math.round(Math.abs(Number.isFinite(value) ? value : 0) * 10 ** decimals));
  const s = n.toString().padStart(digits, '0');
  const out: number[] = [];
  for (let i = digits - 2; i >= 0; i -= 2) out.push(parseInt(s.slice(i, i + 2), 16)); // "15" read as hex is 0x15: BCD
  if (signed && value < 0 && n > 0) out[out.length - 1]! |= 0x80;
  return out;
}

/** The value bytes of an identifier at these meter values. */
export function identifierValue(id: SimIdentifier, v: MeterValues): number[] {
  return id.quantities.flatMap((q) => bcdBytes(v[q], id.bytes, id.decimals, id.signed));
}

/** "000012345678" → A0..A5 */
export function simAddressBytes(address: string): number[] {
  const out: number[] = [];
  for (let i = 10; i >= 0; i -= 2) out.push(parseInt(address.slice(i, i + 2), 16));
  return out;
}

export function simDiBytes(di: string): number[] {
  const out: number[] = [];
  for (let i = 6; i >= 0; i -= 2) out.push(parseInt(di.slice(i, i + 2), 16));
  return out;
}

/** A reply frame: 68 A0..A5 68 C L DATA+33 CS 16 (a meter sends no FE preamble unless told to; most send none). */
export function simFrame(addressBytes: readonly number[], control: number, data: readonly number[], preamble = 0): Buffer {
  const body = [0x68, ...addressBytes, 0x68, control, data.length, ...data.map((d) => (d + 0x33) & 0xff)];
  let cs = 0;
  for (const b of body) cs = (cs + b) & 0xff;
  return Buffer.from([...Array<number>(preamble).fill(0xfe), ...body, cs, 0x16]);
}

export interface SimRequest {
  /** A0..A5 as received */
  address: number[];
  control: number;
  /** the data field with 33H taken off */
  data: number[];
}

/**
 * Takes the requests off the front of `buf`: FE and anything else before a 68
 * is skipped, a 68 that does not begin a well-formed frame (second 68, L ≤
 * 200, checksum, 16) is skipped byte by byte. Returns the requests and what
 * is left (a frame still arriving), and how many bytes were thrown away.
 */
export function takeRequests(buf: Buffer): { requests: SimRequest[]; rest: Buffer; dropped: number } {
  const requests: SimRequest[] = [];
  let at = 0;
  let dropped = 0;
  while (at < buf.length) {
    if (buf[at] !== 0x68) {
      if (buf[at] !== 0xfe) dropped++;
      at++;
      continue;
    }
    if (buf.length - at < 10) break;
    const len = buf[at + 9]!;
    if (buf[at + 7] !== 0x68 || len > 200) {
      dropped++;
      at++;
      continue;
    }
    if (buf.length - at < 12 + len) break;
    let cs = 0;
    for (let k = at; k < at + 10 + len; k++) cs = (cs + buf[k]!) & 0xff;
    if (cs !== buf[at + 10 + len] || buf[at + 11 + len] !== 0x16) {
      dropped++;
      at++;
      continue;
    }
    requests.push({
      address: [...buf.subarray(at + 1, at + 7)],
      control: buf[at + 8]!,
      data: [...buf.subarray(at + 10, at + 10 + len)].map((d) => (d - 0x33) & 0xff),
    });
    at += 12 + len;
  }
  return { requests, rest: buf.subarray(at), dropped };
}

/** A reply broken the way the `garbage` fault's mode says. */
export function garble(frame: Buffer, a: number[], control: number, data: number[], mode: GarbageMode, random: () => number): Buffer {
  switch (mode) {
    case 'random':
      return Buffer.from(Array.from({ length: 1 + Math.floor(random() * 24) }, () => Math.floor(random() * 256)));
    case 'truncated':
      return frame.subarray(0, Math.max(3, Math.floor(frame.length / 2)));
    case 'corrupt': {
      const f = Buffer.from(frame);
      f[f.length - 2]! ^= 0xff; // the checksum no longer matches
      return f;
    }
    case 'wrong_unit':
      return simFrame([(a[0]! + 1) & 0xff, ...a.slice(1)], control, data);
    case 'wrong_function':
      return simFrame(a, control ^ 0x02, data); // 91H becomes 93H: the reply to another function
    default: {
      const never: never = mode;
      throw new Error(`unknown garbage mode ${String(never)}`);
    }
  }
}
