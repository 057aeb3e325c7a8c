/**
 * One DL/T 645 meter as a poll source for the device poller: every read of
 * its profile in order on its bus, stopping at the first that fails (so a
 * dead meter costs its bus one timeout per poll). A value that is not BCD is
 * dropped with its reason (logged once per quantity, counted), never turned
 * into a number; the rest of the reading still goes out.
 *
 * With the profile's `clock`, the meter's date and time (04000101, 04000102)
 * are read after the values at most every `clock.everyS`, and the meter's
 * clock minus the agent's (at the middle of the two requests, s) goes out as
 * `clock_offset`. A meter that refuses them is not asked again (logged once);
 * a clock read that times out is tried at the next poll and fails nothing.
 */
import type { Logger } from '../log.ts';
import type { Quantity, Reading } from '../../contract/index.ts';
import type { DeepReadonly } from '../freeze.ts';
import type { PollSource } from '../poller.ts';
import type { Dlt645Bus } from './bus.ts';
import { Dlt645Error } from './errors.ts';
import { decodeRead, type Dlt645Profile } from './reads.ts';

export interface Dlt645SourceOptions {
  bus: Dlt645Bus;
  /** 12 digits, as on the meter's plate */
  address: string;
  profile: DeepReadonly<Dlt645Profile>;
  /** per request, ms */
  timeoutMs: number;
  log: Logger;
  /** the agent's clock, epoch ms; default Date.now */
  clock?: () => number;
}

/** Two BCD digits of a byte, or NaN when it is not BCD. */
function bcd2(b: number): number {
  const hi = b >> 4;
  const lo = b & 0x0f;
  return hi > 9 || lo > 9 ? NaN : hi * 10 + lo;
}

/**
 * The meter's time as epoch ms from its 04000101 (YYMMDDWW) and 04000102
 * (hhmmss) values (least significant byte first, 33H already taken off), kept
 * in the zone `utcOffsetMin`; null when they are no valid date and time.
 */
export function meterTimeOf(date: Uint8Array, time: Uint8Array, utcOffsetMin: number): number | null {
  if (date.length !== 4 || time.length !== 3) return null;
  const [day, month, year] = [bcd2(date[1]!), bcd2(date[2]!), bcd2(date[3]!)];
  const [s, m, h] = [bcd2(time[0]!), bcd2(time[1]!), bcd2(time[2]!)];
  if (![day, month, year, s, m, h].every(Number.isFinite) || month < 1 || month > 12 || day < 1 || day > 31 || h > 23 || m > 59 || s > 59) return null;
  const local = Date.UTC(2000 + year, month - 1, day, h, m, s);
  if (new Date(local).getUTCDate() !== day) return null;
  return local - utcOffsetMin * 60_000;
}

/** DL/T 645-2007 meter running status word 7 (合相故障状态): 2 bytes, a bit field (not BCD), least significant byte first */
export const STATUS_WORD_7 = '04000507';

/** Bit 0 of status word 7 (电压逆相序: voltages in reverse phase sequence) as 0 or 1; null when the value is not the word's 2 bytes. */
export function phaseSequenceBit(word: Uint8Array): number | null {
  return word.length === 2 ? word[0]! & 0x01 : null;
}

export class Dlt645Source implements PollSource {
  /** values dropped because their bytes were not BCD */
  notBcd = 0;
  private readonly reported = new Set<Quantity>();
  /** when the meter's clock was last read (agent's clock); null = not yet */
  private clockReadAt: number | null = null;
  /** the meter refused its date or time: not asked again */
  private clockRefused = false;
  /** when status word 7 was last read (agent's clock); null = not yet */
  private statusReadAt: number | null = null;
  /** the meter refused status word 7: not asked again */
  private statusRefused = false;

  constructor(private readonly o: Dlt645SourceOptions) {}

  async poll(): Promise<{ values: Reading['v']; invalid: { quantity: Quantity; value: number }[] }> {
    const { bus, address, profile, timeoutMs } = this.o;
    const values: Reading['v'] = {};
    const invalid: { quantity: Quantity; value: number }[] = [];
    for (const read of profile.reads) {
      const bytes = await bus.read(address, read.di, timeoutMs);
      const r = decodeRead(read, bytes);
      if (!r.ok) throw new Dlt645Error('GW_ERR_DLT645_RESPONSE', `meter ${address}: ${r.reason}`);
      for (const e of r.elements) {
        if (e.ok) values[e.quantity] = e.value;
        else if (e.kind === 'implausible') invalid.push({ quantity: e.quantity, value: e.value });
        else {
          this.notBcd++;
          if (!this.reported.has(e.quantity)) {
            this.reported.add(e.quantity);
            this.o.log.warn({ quantity: e.quantity, reason: e.reason }, 'value is not BCD, dropped (reported once per quantity)');
          }
        }
      }
    }
    const offset = await this.clockOffset();
    if (offset !== undefined) values.clock_offset = offset;
    const reversed = await this.phaseSequence();
    if (reversed !== undefined) values.phase_seq_rev = reversed;
    return { values, invalid };
  }

  /** Bit 0 of the meter's status word 7 (04000507): 1 when its voltages are in reverse phase sequence; when due and the meter tells it. */
  private async phaseSequence(): Promise<number | undefined> {
    const c = this.o.profile.status;
    if (!c || this.statusRefused) return undefined;
    const now = (this.o.clock ?? Date.now)();
    if (this.statusReadAt !== null && now - this.statusReadAt < c.everyS * 1000) return undefined;
    const { bus, address, timeoutMs, log } = this.o;
    let word: Uint8Array;
    try {
      word = await bus.read(address, STATUS_WORD_7, timeoutMs);
    } catch (err) {
      if (err instanceof Dlt645Error && err.code === 'GW_ERR_DLT645_METER') {
        this.statusRefused = true;
        log.warn({ err: err.message }, 'the meter does not give its status word 7: phase_seq_rev not sent for it');
      }
      return undefined;
    }
    this.statusReadAt = now;
    const bit = phaseSequenceBit(word);
    if (bit === null) {
      log.warn({ word: Buffer.from(word).toString('hex') }, 'status word 7 is not 2 bytes: phase_seq_rev not sent');
      return undefined;
    }
    return bit;
  }

  /** The meter's clock minus the agent's, s (one decimal), when it is due and the meter tells it. */
  private async clockOffset(): Promise<number | undefined> {
    const c = this.o.profile.clock;
    if (!c || this.clockRefused) return undefined;
    const now = this.o.clock ?? Date.now;
    const t0 = now();
    if (this.clockReadAt !== null && t0 - this.clockReadAt < c.everyS * 1000) return undefined;
    const { bus, address, timeoutMs, log } = this.o;
    let date: Uint8Array;
    let time: Uint8Array;
    try {
      date = await bus.read(address, '04000101', timeoutMs);
      time = await bus.read(address, '04000102', timeoutMs);
    } catch (err) {
      if (err instanceof Dlt645Error && err.code === 'GW_ERR_DLT645_METER') {
        this.clockRefused = true;
        log.warn({ err: err.message }, 'the meter does not give its date and time: clock_offset not sent for it');
      }
      return undefined;
    }
    const t1 = now();
    this.clockReadAt = t1;
    const meterMs = meterTimeOf(date, time, c.utcOffsetMin);
    if (meterMs === null) {
      log.warn({ date: Buffer.from(date).toString('hex'), time: Buffer.from(time).toString('hex') }, 'meter date and time not valid BCD: clock_offset not sent');
      return undefined;
    }
    // the meter's clock has whole seconds: compare with the agent's at the middle of the two requests
    return Math.round((meterMs - (t0 + t1) / 2) / 100) / 10;
  }
}
