/**
 * A spool in memory: the same contract as the disk spool, minus surviving
 * the process. Used when the agent config has no spool directory, and as the
 * second implementation the contract suite runs against.
 */
import type { Reading } from '../../contract/index.ts';
import { LossLedger, spoolStats } from './common.ts';
import type { Spool, SpoolLoss, SpoolStats, UnsequencedReading } from './types.ts';

export interface MemorySpoolOptions {
  /** quota: encoded bytes (JSON) held; the oldest readings go beyond it. Default 64 MiB */
  maxBytes?: number;
  /** the first seq; default 0 */
  initialSeq?: number;
}

export class MemorySpool implements Spool {
  private readonly maxBytes: number;
  private readonly startSeq: number;
  /** readings[i].seq === base + i */
  private readings: Reading[] = [];
  private sizes: number[] = [];
  private head = 0;
  private bytes = 0;
  private next = 0;
  private ackedSeq = -1;
  private readonly losses = new LossLedger();
  private appended = 0;

  /** Does nothing until open(). */
  constructor(opts: MemorySpoolOptions = {}) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.startSeq = opts.initialSeq ?? 0;
  }

  open(): void {
    this.next = this.startSeq;
    this.ackedSeq = this.startSeq - 1;
  }

  get firstSeq(): number {
    return this.head < this.readings.length ? this.readings[this.head]!.seq : this.next;
  }
  get nextSeq(): number {
    return this.next;
  }
  get acked(): number {
    return this.ackedSeq;
  }

  append(u: UnsequencedReading): Reading {
    const r: Reading = { device: u.device, ts: u.ts, seq: this.next++, v: u.v, q: u.q };
    if (u.late) r.late = true;
    const size = JSON.stringify(r).length + 1;
    this.readings.push(r);
    this.sizes.push(size);
    this.bytes += size;
    this.appended++;
    if (this.bytes > this.maxBytes) this.enforceQuota();
    return r;
  }

  private enforceQuota(): void {
    let n = 0;
    let first: Reading | undefined;
    let last: Reading | undefined;
    // keep the newest reading even if it alone is over the quota
    while (this.bytes > this.maxBytes && this.readings.length - this.head > 1) {
      const r = this.readings[this.head]!;
      this.bytes -= this.sizes[this.head]!;
      this.head++;
      first ??= r;
      last = r;
      n++;
    }
    this.compact();
    if (n > 0 && first && last) {
      this.losses.record({ readings: n, fromSeq: first.seq, toSeq: last.seq, fromTs: first.ts, toTs: last.ts });
    }
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.readings.length) {
      this.readings = this.readings.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }

  flush(): void {
    // nothing to write
  }

  read(from: number, max: number): Reading[] {
    const start = Math.max(from, this.firstSeq);
    if (start >= this.next || max <= 0) return [];
    const i = this.head + (start - this.firstSeq);
    return this.readings.slice(i, Math.min(this.readings.length, i + max));
  }

  ack(seq: number): void {
    const upTo = Math.min(seq, this.next - 1);
    if (upTo <= this.ackedSeq) return;
    this.ackedSeq = upTo;
    while (this.head < this.readings.length && this.readings[this.head]!.seq <= upTo) {
      this.bytes -= this.sizes[this.head]!;
      this.head++;
    }
    this.compact();
  }

  takeLosses(): SpoolLoss[] {
    return this.losses.take();
  }

  stats(): SpoolStats {
    return spoolStats(this, this.losses, { bytes: this.bytes, maxBytes: this.maxBytes, segments: 0, appended: this.appended, corrupt: 0, ioErrors: 0, fsyncs: 0 });
  }

  close(): void {
    // nothing to release
  }
}
