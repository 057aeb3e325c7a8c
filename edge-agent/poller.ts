/**
 * Polls one device on its own schedule and turns each poll into a reading.
 *
 * Device state: `unknown` (not polled yet) → `good` ⇄ `comm_loss`. A failed
 * poll (timeout, Modbus exception, broken connection) gives a `comm_loss`
 * reading with no values — a dead meter is not a zero (docs/contract.md,
 * Readings). Errors are counted per device on every poll and logged only
 * when the state changes, as `{ from, to, reason }`.
 */
import type { Logger } from './log.ts';
import type { Quantity, Reading } from '../contract/index.ts';
import type { DeviceConfig } from './config.ts';
import { decodeInto } from './decode.ts';
import { EdgeAgentError } from './errors.ts';
import type { ModbusReader, ModbusReadRequest } from './modbus-client.ts';
import type { PlannedRead } from './plan.ts';
import { sharedPollSchedule, type PollSchedule, type Scheduled } from './schedule.ts';

/**
 * The values of the Modbus read being decoded, by its count: a Modbus TCP
 * connection writes an answer into the array just before the read resolves,
 * and the poll decodes it at once, before any other I/O, so every poller can
 * share them (ModbusReader.read). One per count: an array whose length went
 * down and up again at every read would be allocated again each time.
 */
const BLOCKS: number[][] = [];

export type DeviceState = 'unknown' | 'good' | 'comm_loss';

export interface DeviceTransition {
  from: DeviceState;
  to: DeviceState;
  reason: string;
  /** epoch ms of the poll that caused it */
  at: number;
}

/** A reading before the agent gives it its sequence number. */
export type UnsequencedReading = Omit<Reading, 'seq'>;

export interface DeviceStats {
  state: DeviceState;
  polls: number;
  good: number;
  commLoss: number;
  /** failed polls by error code */
  errors: Record<string, number>;
  /** polls due while the previous one was still running, skipped */
  skipped: number;
  /** values read and sent (tags) */
  values: number;
  /** values dropped because they were not finite or outside the contract's plausible range */
  invalidValues: number;
  /** duration of the last poll, ms (its reads, and the wait behind other units' reads on the same line) */
  lastPollMs: number;
  /** the longest poll since start, ms */
  slowestPollMs: number;
}

/** What the schedule needs of a device, whatever protocol it speaks. */
export type PolledDevice = Pick<DeviceConfig, 'id' | 'intervalMs' | 'backoffMaxMs'>;

/** One poll of a device that is not read through planned Modbus reads (DL/T 645); throws an EdgeAgentError when it cannot be read. */
export interface PollSource {
  poll(): Promise<{ values: Reading['v']; invalid: readonly { quantity: Quantity; value: number }[] }>;
}

export type DevicePollerDeps = DevicePollerCommon & ({ device: DeviceConfig; reads: readonly PlannedRead[]; reader: ModbusReader } | { device: PolledDevice; source: PollSource });

interface DevicePollerCommon {
  /** epoch ms; a reading's ts is the clock at the start of its poll */
  clock: () => number;
  log: Logger;
  emit: (reading: UnsequencedReading) => void;
  /** the timer the poll schedule runs on; default one the process shares */
  schedule?: PollSchedule;
}

/** Sums over devices, without a copy per device (the stats line of an agent with a thousand meters). */
export interface DeviceTotals {
  devices: number;
  /** devices not polled yet */
  unknown: number;
  commLossDevices: number;
  polls: number;
  good: number;
  commLoss: number;
  skipped: number;
  values: number;
}

export function emptyTotals(): DeviceTotals {
  return { devices: 0, unknown: 0, commLossDevices: 0, polls: 0, good: 0, commLoss: 0, skipped: 0, values: 0 };
}

export class DevicePoller implements Scheduled {
  private readonly d: DevicePollerDeps;
  private readonly log: Logger;
  private readonly schedule: PollSchedule;
  private state: DeviceState = 'unknown';
  private failures = 0;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** monotonic (performance.now) time the next poll is due; the schedule runs on it, not on the injected clock */
  due = 0;
  /** the schedule's */
  slot = -1;
  /** the requests of a Modbus device's planned reads, built once: they are the same at every poll */
  private readonly requests: readonly ModbusReadRequest[];
  private readonly reportedInvalid = new Set<Quantity>();
  private readonly s: Omit<DeviceStats, 'state'> = { polls: 0, good: 0, commLoss: 0, errors: {}, skipped: 0, values: 0, invalidValues: 0, lastPollMs: 0, slowestPollMs: 0 };
  private readonly onInvalid = (quantity: Quantity, value: number): void => this.reportInvalid(quantity, value);
  private readonly afterPoll = (): void => {
    this.running = null;
    this.advance();
    if (!this.stopped) this.schedule.add(this);
  };

  /** Does no I/O and starts no timer. */
  constructor(deps: DevicePollerDeps) {
    this.d = deps;
    this.log = deps.log.child({ deviceId: deps.device.id });
    this.schedule = deps.schedule ?? sharedPollSchedule;
    const d = deps;
    this.requests =
      'source' in d ? [] : d.reads.map((read) => ({ unitId: d.device.unitId, fc: read.fc, address: read.address, count: read.count, timeoutMs: d.device.timeoutMs }));
  }

  get deviceId(): string {
    return this.d.device.id;
  }

  stats(): DeviceStats {
    return { state: this.state, ...this.s, errors: { ...this.s.errors } };
  }

  /** Adds this device's counters to `t`. */
  addTotals(t: DeviceTotals): void {
    t.devices++;
    if (this.state === 'unknown') t.unknown++;
    else if (this.state === 'comm_loss') t.commLossDevices++;
    t.polls += this.s.polls;
    t.good += this.s.good;
    t.commLoss += this.s.commLoss;
    t.skipped += this.s.skipped;
    t.values += this.s.values;
  }

  /** Schedules the first poll `firstDelayMs` from now, then one every intervalMs. */
  start(firstDelayMs: number): void {
    this.stopped = false;
    this.due = performance.now() + firstDelayMs;
    this.schedule.add(this);
  }

  /** Stops scheduling and waits for a poll in progress to end (bounded by the request timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.schedule.remove(this);
    await this.running;
  }

  /** The schedule's call: the poll is due. */
  fire(): void {
    if (this.stopped || this.running) return;
    this.running = this.pollOnce().then(this.afterPoll);
  }

  /**
   * Fixed-rate schedule: the next poll is due one period after the previous
   * due time, not after the poll ended, so polls do not drift. Slots missed
   * while a poll ran long are skipped and counted, not fired in a burst.
   */
  private advance(): void {
    const period = this.period();
    this.due += period;
    const now = performance.now();
    if (this.due < now) {
      const missed = Math.ceil((now - this.due) / period);
      this.s.skipped += missed;
      this.due += missed * period;
    }
  }

  /** intervalMs while good; doubling per consecutive failure up to backoffMaxMs while in comm_loss */
  private period(): number {
    const { intervalMs, backoffMaxMs } = this.d.device;
    if (this.failures <= 1) return intervalMs;
    const cap = Math.max(intervalMs, backoffMaxMs);
    return Math.min(cap, intervalMs * 2 ** Math.min(this.failures - 1, 30));
  }

  /** One poll: every planned read in order, stopping at the first failure. Never throws. */
  async pollOnce(): Promise<void> {
    const { device, clock } = this.d;
    const ts = clock();
    const t0 = performance.now();
    this.s.polls++;
    try {
      const v: Reading['v'] = {};
      if ('source' in this.d) {
        const got = await this.d.source.poll();
        Object.assign(v, got.values);
        for (const bad of got.invalid) this.reportInvalid(bad.quantity, bad.value);
      } else {
        const { reads, reader } = this.d;
        const requests = this.requests;
        for (let i = 0; i < reads.length; i++) {
          const read = reads[i]!;
          const data = await reader.read(requests[i]!, (BLOCKS[read.count] ??= []));
          decodeInto(read.registers, read.address, data, v, this.onInvalid);
        }
      }
      this.took(t0);
      this.s.good++;
      this.s.values += countKeys(v);
      this.failures = 0;
      this.d.emit({ device: device.id, ts, v, q: 'good' });
      this.transition('good', 'poll succeeded', ts);
    } catch (err) {
      this.took(t0);
      this.s.commLoss++;
      this.failures++;
      // anything else (a block that does not decode) is an answer that cannot be used
      const code = err instanceof EdgeAgentError ? err.code : 'GW_ERR_MODBUS_RESPONSE';
      this.s.errors[code] = (this.s.errors[code] ?? 0) + 1;
      this.d.emit({ device: device.id, ts, v: {}, q: 'comm_loss' });
      this.transition('comm_loss', `${code}: ${(err as Error).message ?? String(err)}`, ts, err);
    }
  }

  private took(t0: number): void {
    this.s.lastPollMs = performance.now() - t0;
    if (this.s.lastPollMs > this.s.slowestPollMs) this.s.slowestPollMs = this.s.lastPollMs;
  }

  private reportInvalid(quantity: Quantity, value: number): void {
    this.s.invalidValues++;
    if (this.reportedInvalid.has(quantity)) return;
    this.reportedInvalid.add(quantity);
    this.log.warn({ quantity, value: String(value) }, 'implausible value dropped (reported once per quantity)');
  }

  private transition(to: DeviceState, reason: string, at: number, err?: unknown): void {
    if (this.state === to) return;
    const t: DeviceTransition = { from: this.state, to, reason, at };
    this.state = to;
    switch (to) {
      case 'good':
        // a meter's first answer after start is summed up for all meters in one line
        // ('every device polled once', main.ts) instead of a thousand lines at every start
        if (t.from === 'unknown') this.log.debug(t, 'device state changed');
        else this.log.info(t, 'device state changed');
        break;
      case 'comm_loss':
        this.log.warn({ ...t, err }, 'device state changed');
        break;
      case 'unknown':
        break;
      default: {
        const never: never = to;
        throw new Error(`unknown device state ${String(never)}`);
      }
    }
  }
}

function countKeys(o: object): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}
