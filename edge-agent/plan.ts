/**
 * Pure block planner: which reads fetch a profile's registers in as few
 * requests as possible. On an RS-485 bus behind a gateway every request costs
 * a round trip of tens of milliseconds, so fewer, larger reads win; reading
 * across a small gap of unused addresses is cheaper than a second request.
 *
 * The gap rule is only safe where the device answers the gap addresses: a
 * meter that answers exception 02 for an unmapped address fails the whole
 * read. That is a property of the device, so `maxGap` comes from the profile.
 */
import { registerWidth, type ReadFunctionCode, type RegisterSpec } from './decode.ts';

/** Modbus Application Protocol v1.1b3 §6.1–6.4: at most 2000 bits (FC 01/02) or 125 registers (FC 03/04) per read. */
export const MAX_BITS_PER_READ = 2000;
export const MAX_REGISTERS_PER_READ = 125;
export const DEFAULT_MAX_GAP = 4;

export interface PlannedRead<R extends RegisterSpec = RegisterSpec> {
  readonly fc: ReadFunctionCode;
  /** first address read */
  readonly address: number;
  /** registers (or bits) read */
  readonly count: number;
  /** the registers decoded from this read, by address */
  readonly registers: readonly R[];
}

export interface PlanOptions {
  /** merge two registers into one read when at most this many unused addresses lie between them; default 4 */
  maxGap?: number;
  /** most registers per FC 03/04 read, 1..125 (some gateways take fewer); default 125 */
  maxRegisters?: number;
}

/**
 * Groups registers by function code and merges neighbours greedily in address
 * order. For intervals sorted by start, greedy extension is optimal: a new read
 * starts only when the next register cannot join the current one.
 */
export function planReads<R extends RegisterSpec>(registers: readonly R[], opts: PlanOptions = {}): PlannedRead<R>[] {
  const maxGap = opts.maxGap ?? DEFAULT_MAX_GAP;
  const maxRegisters = opts.maxRegisters ?? MAX_REGISTERS_PER_READ;
  if (!Number.isInteger(maxGap) || maxGap < 0) throw new RangeError(`maxGap must be a non-negative integer, got ${maxGap}`);
  if (!Number.isInteger(maxRegisters) || maxRegisters < 2 || maxRegisters > MAX_REGISTERS_PER_READ)
    throw new RangeError(`maxRegisters must be an integer 2..${MAX_REGISTERS_PER_READ}, got ${maxRegisters}`);

  const sorted = [...registers].sort((a, b) => a.fc - b.fc || a.address - b.address || registerWidth(b.type) - registerWidth(a.type));
  const reads: PlannedRead<R>[] = [];
  let cur: { fc: ReadFunctionCode; address: number; end: number; registers: R[] } | undefined;
  const flush = () => {
    if (cur) reads.push({ fc: cur.fc, address: cur.address, count: cur.end - cur.address, registers: cur.registers });
  };
  for (const r of sorted) {
    const end = r.address + registerWidth(r.type);
    const limit = r.fc === 1 || r.fc === 2 ? MAX_BITS_PER_READ : maxRegisters;
    if (cur && cur.fc === r.fc && r.address - cur.end <= maxGap && Math.max(cur.end, end) - cur.address <= limit) {
      cur.end = Math.max(cur.end, end);
      cur.registers.push(r);
      continue;
    }
    flush();
    cur = { fc: r.fc, address: r.address, end, registers: [r] };
  }
  flush();
  return reads;
}
