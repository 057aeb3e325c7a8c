/** What every spool keeps the same way, whatever its medium. */
import type { EncodedReadings, Spool, SpoolLoss, SpoolStats } from './types.ts';

/**
 * What the quota dropped: the exact count since the spool was created (a
 * disk spool persists it with its state) and the ranges not yet taken by the
 * agent for its loss report.
 */
export class LossLedger {
  private pending: SpoolLoss[] = [];

  /** `total`: readings lost before this process (from the spool's persisted state) */
  constructor(private lost = 0) {}

  /** readings lost since the spool was created */
  get total(): number {
    return this.lost;
  }

  record(loss: SpoolLoss): void {
    this.lost += loss.readings;
    this.pending.push(loss);
  }

  /** Losses recorded since the last call, oldest first. */
  take(): SpoolLoss[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }
}

/** Counters that depend on the medium. */
export type MediumStats = Pick<SpoolStats, 'bytes' | 'maxBytes' | 'segments' | 'appended' | 'corrupt' | 'ioErrors' | 'fsyncs'>;

/** A spool's stats: the seq bounds and the loss count are the same for every medium (seqs in a spool are contiguous). */
export function spoolStats(spool: Pick<Spool, 'firstSeq' | 'nextSeq' | 'acked'>, losses: LossLedger, medium: MediumStats): SpoolStats {
  const { firstSeq, nextSeq, acked } = spool;
  return { firstSeq, nextSeq, acked, unacked: nextSeq - firstSeq, lost: losses.total, ...medium };
}

/** No readings, for a read that finds none (a new object: callers push into it). */
export function noReadings(): EncodedReadings {
  return { seqs: [], ts: [], json: [] };
}

/** The lines `from`..`end` (exclusive) of a window whose line at index 0 has seq `seq0`, with their seqs and ts. */
export function windowSlice(lines: readonly string[], ts: readonly number[], seq0: number, from: number, end: number): EncodedReadings {
  const seqs: number[] = [];
  for (let k = from; k < end; k++) seqs.push(seq0 + k);
  return { seqs, ts: ts.slice(from, end), json: lines.slice(from, end) };
}
