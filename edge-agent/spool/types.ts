/**
 * The spool port (one contract suite for every implementation:
 * test/edge-agent/spool-contract.ts): an ordered log of readings that the
 * agent writes every reading to before it is sent, and forgets only below the
 * server's durable watermark (docs/contract.md, Watermark).
 *
 * The spool owns the agent's sequence counter: `append` numbers a reading, so
 * a persistent spool continues after the last seq it holds when the agent
 * restarts, and seqs in a spool are contiguous.
 *
 * Implementations: `DiskSpool` (segment files, configurable fsync) and
 * `MemorySpool` (nothing survives the process; for an agent without a spool
 * directory and for tests). Both pass `test/edge-agent/spool-contract.ts`.
 */
import type { Reading } from '../../contract/index.ts';

/** A reading before the spool numbers it. */
export type UnsequencedReading = Omit<Reading, 'seq'>;

/**
 * When appended bytes are forced to the disk: `always` — before the readings
 * are handed to the uplink (fdatasync on every flush); `interval` — at most
 * `fsyncIntervalMs` after they were written; `none` — when the OS decides.
 * A process crash (SIGKILL) loses nothing under any policy once the bytes are
 * written; the policy only matters for a power loss or kernel crash.
 */
export const FSYNC_POLICIES = ['always', 'interval', 'none'] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];

/** Readings the quota pushed out before the server confirmed them. */
export interface SpoolLoss {
  /** how many readings: exact */
  readings: number;
  /** seq range lost, inclusive */
  fromSeq: number;
  toSeq: number;
  /** poll timestamps (epoch ms) of the first and last reading lost, when known */
  fromTs?: number;
  toTs?: number;
}

export interface SpoolStats {
  /** oldest unacknowledged seq held (== nextSeq when nothing is waiting) */
  firstSeq: number;
  nextSeq: number;
  /** highest seq the server confirmed durably stored; everything at or below it may be gone */
  acked: number;
  /** readings held that are not acknowledged */
  unacked: number;
  /** bytes the spool takes (on disk, or the encoded size in memory) */
  bytes: number;
  maxBytes: number;
  segments: number;
  /** readings appended by this process */
  appended: number;
  /** readings the quota dropped before they were acknowledged, since the spool was created (persists) */
  lost: number;
  /** lines that could not be decoded when read back (torn or corrupted), skipped */
  corrupt: number;
  /** write or fsync failures (the readings stay in memory and are retried) */
  ioErrors: number;
  fsyncs: number;
}

/**
 * Readings as the uplink sends them, in seq order: each one's JSON as the
 * spool wrote it (no newline), with its seq and ts. The uplink puts the JSON
 * into a message as it is, without decoding and encoding every reading again.
 */
export interface EncodedReadings {
  seqs: number[];
  ts: number[];
  json: string[];
}

export interface Spool {
  /** Opens (and for a disk spool recovers) the log. Call once before anything else. */
  open(): void;
  /** Numbers the reading with the next seq and appends it; returns the numbered reading. */
  append(reading: UnsequencedReading): Reading;
  /**
   * Writes what was appended to the medium (and fsyncs per policy). Never
   * throws: an I/O failure is counted and logged, and retried on the next flush.
   */
  flush(): void;
  /**
   * Unacknowledged readings with seq ≥ `from`, in seq order, at most `max`.
   * May return fewer than `max` even when more follow (one segment at a time).
   * A seq missing in between is gone for good (a line that cannot be decoded
   * any more); one that cannot be read now (an I/O error) ends the batch.
   */
  read(from: number, max: number): Reading[];
  /** The same readings as `read`, encoded (see EncodedReadings). */
  readEncoded(from: number, max: number): EncodedReadings;
  /** The server stored every reading with seq ≤ `seq`: they may be forgotten. Lower values are ignored. */
  ack(seq: number): void;
  /** Losses caused by the quota since the last call, oldest first. */
  takeLosses(): SpoolLoss[];
  /** oldest unacknowledged seq held */
  readonly firstSeq: number;
  readonly nextSeq: number;
  readonly acked: number;
  stats(): SpoolStats;
  /** Flushes, syncs and releases the medium. Idempotent. */
  close(): void;
}
