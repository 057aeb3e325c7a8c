/**
 * Modbus TCP frames for the agent's reads, straight from and into bytes.
 * No I/O, no allocation beyond the values of a good answer and the error of
 * a bad one.
 *
 * Modbus Messaging on TCP/IP Implementation Guide v1.0b §3.1.3, the MBAP
 * header: transaction id (2 bytes), protocol id 0 (2), length (2: the unit
 * id and the PDU), unit id (1); then the PDU (Modbus Application Protocol
 * v1.1b3 §4.1): function code (1) and data. A read answer's data is a byte
 * count and that many bytes (§6.1–6.4); an exception answer is the function
 * code with its high bit set and one exception code (§7). All big-endian.
 */
import { READ_FUNCTION_CODES } from './decode.ts';
import { ModbusError } from './errors.ts';
import { exceptionError, requestLabel, type ModbusReadRequest } from './modbus-client.ts';
import { MAX_BITS_PER_READ, MAX_REGISTERS_PER_READ } from './plan.ts';

/** A read request: MBAP header (7) + function code, address, count (5). */
export const REQUEST_BYTES = 12;
/** The largest Modbus TCP frame: MBAP header (7) + the largest PDU (253). */
export const MAX_FRAME_BYTES = 260;
/** Bytes that tell a frame's size: transaction id, protocol id, length. */
export const SIZE_BYTES = 6;
/** The MBAP length of an answer: unit id, function code and at least one byte (an exception code or a byte count) … */
const MIN_LENGTH = 3;
/** … and at most the unit id and the largest PDU. */
const MAX_LENGTH = 254;

/** Why `req` cannot be sent as a Modbus read, or null when it can: bad input, refused before any byte goes out. */
export function refusal(req: ModbusReadRequest): string | null {
  if (typeof req !== 'object' || req === null) return 'refusing a request that is not an object';
  if (!(READ_FUNCTION_CODES as readonly unknown[]).includes(req.fc)) return `refusing function code ${String(req.fc)}: only reads (1–4) are sent`;
  if (!Number.isInteger(req.unitId) || req.unitId < 0 || req.unitId > 255) return `refusing unit id ${String(req.unitId)}: not 0..255`;
  const most = req.fc <= 2 ? MAX_BITS_PER_READ : MAX_REGISTERS_PER_READ;
  if (!Number.isInteger(req.count) || req.count < 1 || req.count > most) return `refusing count ${String(req.count)} for fc ${req.fc}: not 1..${most}`;
  if (!Number.isInteger(req.address) || req.address < 0 || req.address + req.count > 0x10000)
    return `refusing address ${String(req.address)}+${req.count}: outside 0x0000..0xFFFF`;
  if (!(req.timeoutMs > 0) || !Number.isFinite(req.timeoutMs)) return `refusing timeout ${String(req.timeoutMs)} ms: not a positive number`;
  return null;
}

/** Writes the read request `req` with transaction id `tid` into the first REQUEST_BYTES of `buf`. */
export function encodeRequest(buf: Buffer, tid: number, req: ModbusReadRequest): void {
  buf[0] = tid >> 8;
  buf[1] = tid & 0xff;
  buf[2] = 0;
  buf[3] = 0;
  buf[4] = 0;
  buf[5] = 6;
  buf[6] = req.unitId;
  buf[7] = req.fc;
  buf[8] = req.address >> 8;
  buf[9] = req.address & 0xff;
  buf[10] = req.count >> 8;
  buf[11] = req.count & 0xff;
}

/**
 * The size of the frame whose first SIZE_BYTES are at `off`, or -1 when they
 * are no MBAP header: a protocol id other than 0, or a length no answer has.
 */
export function frameSize(buf: Uint8Array, off: number): number {
  if (buf[off + 2] !== 0 || buf[off + 3] !== 0) return -1;
  const length = (buf[off + 4]! << 8) | buf[off + 5]!;
  return length < MIN_LENGTH || length > MAX_LENGTH ? -1 : SIZE_BYTES + length;
}

/** The transaction id of the frame at `off`. */
export function transactionId(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

/**
 * The answer to `req` in the frame of `size` bytes at `off` (its header
 * checked by frameSize, its transaction id matched): the registers as
 * unsigned 16-bit numbers or the bits as 0/1, or the error it is — a Modbus
 * exception (GW_ERR_MODBUS_EXCEPTION), or an answer that does not fit the
 * request (GW_ERR_MODBUS_RESPONSE: wrong unit, function code, byte count).
 * The values go into `into` when given.
 */
export function parseAnswer(buf: Uint8Array, off: number, size: number, req: ModbusReadRequest, into?: number[]): number[] | ModbusError {
  const unit = buf[off + 6]!;
  const fc = buf[off + 7]!;
  if (unit !== req.unitId) return unusable(req, `the answer is from unit ${unit}`);
  if (fc === (req.fc | 0x80)) {
    if (size !== 9) return unusable(req, `an exception answer of ${size - 7} bytes (2 expected)`);
    return exceptionError(req, buf[off + 8]!);
  }
  if (fc !== req.fc) return unusable(req, `the answer has function code ${fc}`);
  const bytes = buf[off + 8]!;
  if (size !== 9 + bytes) return unusable(req, `byte count ${bytes} in an answer with ${size - 9} data bytes`);
  const count = req.count;
  const bits = fc <= 2;
  const want = bits ? (count + 7) >> 3 : count * 2;
  if (bytes !== want) return unusable(req, `answered ${bits ? `${bytes * 8} bits` : `${bytes >> 1} registers`} of ${count} requested`);
  const out = into ?? new Array<number>(count);
  out.length = count;
  const data = off + 9;
  if (bits) for (let i = 0; i < count; i++) out[i] = (buf[data + (i >> 3)]! >> (i & 7)) & 1;
  else for (let i = 0, p = data; i < count; i++, p += 2) out[i] = (buf[p]! << 8) | buf[p + 1]!;
  return out;
}

function unusable(req: ModbusReadRequest, why: string): ModbusError {
  return new ModbusError('GW_ERR_MODBUS_RESPONSE', `${requestLabel(req)}: ${why}`);
}
