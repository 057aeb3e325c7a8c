/**
 * A simulated device's register map as data, and the encoder that turns the
 * model's values into the words a read returns.
 *
 * Written independently of the edge agent's decoder on purpose: the two meet
 * only on the wire, so a shared misunderstanding of a type or word order
 * cannot hide behind shared code.
 */
import type { MeterValues, ModelQuantity } from './meter-model.ts';

/** Register function codes a meter answers reads on: 03 holding, 04 input. */
export type RegisterFc = 3 | 4;
export type RegisterType = 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32';
/** ABCD: high word first (big-endian); CDAB: low word first (word-swapped). */
export type WordOrder = 'ABCD' | 'CDAB';

export interface SimRegister {
  quantity: ModelQuantity;
  /** 0-based PDU address */
  address: number;
  fc: RegisterFc;
  type: RegisterType;
  wordOrder: WordOrder;
  /** the register holds value × factor (DTSU666 voltage: 10, so 231.4 V is stored as 2314) */
  factor: number;
  /** round value × factor to an integer before encoding (DTSU666 floats hold scaled integers) */
  integer: boolean;
}

/** A range of addresses the device answers; reads reaching outside every block get exception 02. */
export interface RegisterBlock {
  fc: RegisterFc;
  /** first address */
  start: number;
  /** one past the last address */
  end: number;
}

export interface RegisterMap {
  readonly name: string;
  readonly registers: readonly SimRegister[];
  readonly blocks: readonly RegisterBlock[];
}

/** Modbus exception codes (Modbus Application Protocol v1.1b3 §7). */
export const MODBUS_EXCEPTION = {
  ILLEGAL_FUNCTION: 1,
  ILLEGAL_DATA_ADDRESS: 2,
  ILLEGAL_DATA_VALUE: 3,
  SLAVE_DEVICE_FAILURE: 4,
} as const;

export type ReadResult = { ok: true; words: number[] } | { ok: false; exception: number };

export function registerWidth(type: RegisterType): 1 | 2 {
  return type === 'uint16' || type === 'int16' ? 1 : 2;
}

/** The 16-bit words of one register value, in wire order. */
export function encodeValue(value: number, type: RegisterType, wordOrder: WordOrder): number[] {
  const dv = new DataView(new ArrayBuffer(4));
  switch (type) {
    case 'uint16':
      return [clampInt(value, 0, 0xffff)];
    case 'int16':
      return [clampInt(value, -0x8000, 0x7fff) & 0xffff];
    case 'uint32':
      dv.setUint32(0, clampInt(value, 0, 0xffffffff));
      break;
    case 'int32':
      dv.setInt32(0, clampInt(value, -0x80000000, 0x7fffffff));
      break;
    case 'float32':
      dv.setFloat32(0, value);
      break;
    default: {
      const never: never = type;
      throw new Error(`unknown register type ${String(never)}`);
    }
  }
  const hi = dv.getUint16(0);
  const lo = dv.getUint16(2);
  return wordOrder === 'ABCD' ? [hi, lo] : [lo, hi];
}

/** A meter saturates rather than wrapping when a value does not fit its register. */
function clampInt(x: number, min: number, max: number): number {
  if (Number.isNaN(x)) return 0;
  return Math.min(max, Math.max(min, Math.round(x)));
}

/**
 * Answers a read of `count` words at `address` with function code `fc`, the
 * way the meter would: every address must lie in one of the map's blocks
 * (otherwise exception 02, illegal data address); addresses in a block that no
 * register covers read as 0.
 */
export function readRegisters(map: RegisterMap, values: MeterValues, fc: number, address: number, count: number): ReadResult {
  // Modbus Application Protocol §6.3/§6.4: 1 ≤ quantity ≤ 125 (0x7D), otherwise exception 03
  if (!Number.isInteger(count) || count < 1 || count > 125) return { ok: false, exception: MODBUS_EXCEPTION.ILLEGAL_DATA_VALUE };
  const end = address + count;
  for (let a = address; a < end; ) {
    const block = map.blocks.find((b) => b.fc === fc && b.start <= a && a < b.end);
    if (!block) return { ok: false, exception: MODBUS_EXCEPTION.ILLEGAL_DATA_ADDRESS };
    a = block.end;
  }
  const words = new Array<number>(count).fill(0);
  for (const r of map.registers) {
    if (r.fc !== fc) continue;
    const width = registerWidth(r.type);
    if (r.address + width <= address || r.address >= end) continue;
    const scaled = values[r.quantity] * r.factor;
    const encoded = encodeValue(r.integer ? Math.round(scaled) : scaled, r.type, r.wordOrder);
    for (let i = 0; i < width; i++) {
      const at = r.address + i - address;
      if (at >= 0 && at < count) words[at] = encoded[i]!;
    }
  }
  return { ok: true, words };
}
