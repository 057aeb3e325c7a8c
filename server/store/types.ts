/**
 * The telemetry store port. Two implementations (InfluxDB, embedded DuckDB)
 * pass one contract suite (test/store/store-contract.ts).
 */
import type { PlacedReading, Quantity } from '../../contract/index.ts';
import type { IntervalKind, LineLossRecord } from '../energy/types.ts';

/** One device's poll as stored: the wire reading plus its topology tags (what the live hub pushes, contract/frames.ts). */
export type StoredReading = PlacedReading;

export type Aggregate = 'mean' | 'min' | 'max' | 'last';

export interface HistoryQuery {
  devices: string[];
  quantities: Quantity[];
  /** epoch ms, inclusive */
  from: number;
  /** epoch ms, exclusive */
  to: number;
  /** bucket width in ms; absent or 0 → raw points */
  stepMs?: number;
  /**
   * UTC offset of the zone buckets are aligned to, ms: buckets begin at local
   * k·step, i.e. at epoch + k·step − utcOffsetMs. +8 h makes daily buckets
   * start at midnight in China Standard Time; 0 (the default) aligns to UTC.
   */
  utcOffsetMs?: number;
  aggregate?: Aggregate;
}

export interface HistorySeries {
  device: string;
  quantity: Quantity;
  /** epoch ms (bucket start when aggregated) */
  ts: number[];
  values: (number | null)[];
}

/**
 * The energy counters of an interval in one pass over the store (server/energy/read.ts): raw readings near the
 * ends, [from, m0) and [m1, to), and per `stepMs` bucket of [m0, m1) the lowest, highest and last value.
 */
export interface CounterWindowQuery {
  /** these devices only; absent → every device with a counter in the window */
  devices?: readonly string[];
  quantities: Quantity[];
  from: number;
  m0: number;
  m1: number;
  to: number;
  stepMs: number;
  utcOffsetMs: number;
}

/**
 * The answer, column-wise, rows ordered by device and then time: the raw
 * readings before m0, the buckets, the raw readings from m1 on. A raw row has
 * its value as its lowest, highest and last.
 */
export interface CounterWindow {
  device: string[];
  /** epoch ms: the reading's time, or the bucket's start */
  ts: number[];
  bucket: boolean[];
  /** per quantity of the query (in its order), per row: lowest, highest and last value; null where the row has none */
  low: (number | null)[][];
  high: (number | null)[][];
  last: (number | null)[][];
}

/** Stored line-loss figures (server/energy) of one interval length whose interval starts in [from, to). */
export interface LineLossQuery {
  interval: IntervalKind;
  /** epoch ms, inclusive */
  from: number;
  /** epoch ms, exclusive */
  to: number;
  /** these sites only; absent or empty → all */
  sites?: readonly string[];
  /** this transformer (an id within the sites) only */
  transformer?: string;
}

export interface TelemetryStore {
  readonly kind: 'influxdb' | 'duckdb';
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Resolves once every reading is durably stored. A point's key is
   * (device, ts): writing it again overwrites the quantities it carries and
   * keeps the others, as InfluxDB does.
   */
  write(readings: readonly StoredReading[]): Promise<void>;
  /**
   * Optional: the form readings are held in until they are written, made
   * once when the ingest queues a message — for InfluxDB their line-protocol
   * lines as bytes outside the JavaScript heap. Held there, the readings of
   * the writes in flight are not copied by every young-generation GC (as
   * parsed readings or even flat strings were: ~4 MB per collection at 40k
   * readings/s, 8–9 ms pauses on the event loop that delivers alarms).
   * `writeEncoded` stores chunks of them as `write` would the readings.
   */
  encode?(readings: readonly StoredReading[]): Uint8Array;
  writeEncoded?(chunks: readonly Uint8Array[]): Promise<void>;
  /**
   * The newest reading of each device (all devices when `devices` is
   * absent); with `notAfter` (epoch ms), the newest stamped at or before it:
   * a reading stamped in the future is not any device's latest.
   */
  latest(devices?: readonly string[], notAfter?: number): Promise<StoredReading[]>;
  history(q: HistoryQuery): Promise<HistorySeries[]>;
  /**
   * Optional: the energy counters of a window in one query over every device
   * (CounterWindowQuery), instead of `history` per list of devices: a query
   * naming thousands of devices is what bounded the line loss of many areas.
   */
  counterWindow?(q: CounterWindowQuery): Promise<CounterWindow>;
  /**
   * Line-loss figures (server/energy), their own measurement `line_loss`:
   * one per (site, transformer, interval, start); writing one again replaces it.
   */
  writeLineLoss(records: readonly LineLossRecord[]): Promise<void>;
  /** Figures ordered by site, transformer, start. */
  lineLoss(q: LineLossQuery): Promise<LineLossRecord[]>;
  /** true when the store answers */
  ping(): Promise<boolean>;
}
