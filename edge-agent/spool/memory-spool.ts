/**
 * A spool in memory: the same contract as the disk spool, minus surviving
 * the process. Used when the agent config has no spool directory, and as the
 * second implementation the contract suite runs against.
 */
import type { Reading } from '../../contract/index.ts';
import { LossLedger, noReadings, spoolStats, windowSlice } from './common.ts';
import type { EncodedReadings, Spool, SpoolLoss, SpoolStats, UnsequencedReading } from './types.ts';

export interface MemorySpoolOptions {
  /** quota: encoded bytes (JSON) held; the oldest readings go beyond it. Default 64 MiB */
  maxBytes?: number;
  /** the first seq; default 0 */
  initialSeq?: number;
}

export class MemorySpool implements Spool {
  private readonly maxBytes: number;
  private readonly startSeq: number;
  /** the readings' JSON; the one of seq base + i is lines[i], its ts ts[i], its bytes (newline counted) sizes[i] */
  private lines: string[] = [];
  private ts: number[] = [];
  private sizes: number[] = [];
  private base = 0;
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
    this.base = this.startSeq;
    this.ackedSeq = this.startSeq - 1;
  }

  get firstSeq(): number {
    return this.base + this.head;
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
    const line = JSON.stringify(r);
    const size = line.length + 1;
    this.lines.push(line);
    this.ts.push(r.ts);
    this.sizes.push(size);
    this.bytes += size;
    this.appended++;
    if (this.bytes > this.maxBytes) this.enforceQuota();
    return r;
  }

  private enforceQuota(): void {
    let n = 0;
    const first = this.head;
    // keep the newest reading even if it alone is over the quota
    while (this.bytes > this.maxBytes && this.lines.length - this.head > 1) {
      this.bytes -= this.sizes[this.head]!;
      this.lines[this.head] = '';
      this.head++;
      n++;
    }
    if (n > 0) {
      const last = this.head - 1;
      this.losses.record({ readings: n, fromSeq: this.base + first, toSeq: this.base + last, fromTs: this.ts[first]!, toTs: this.ts[last]! });
    }
    this.compact();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines = this.lines.slice(this.head);
      this.ts = this.ts.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }

  flush(): void {
    // nothing to write
  }

  read(from: number, max: number): Reading[] {
    return this.readEncoded(from, max).json.map((line) => JSON.parse(line) as Reading);
  }

  readEncoded(from: number, max: number): EncodedReadings {
    const start = Math.max(from, this.firstSeq);
    if (start >= this.next || max <= 0) return noReadings();
    const i = start - this.base;
    return windowSlice(this.lines, this.ts, this.base, i, Math.min(this.lines.length, i + max));
  }

  ack(seq: number): void {
    const upTo = Math.min(seq, this.next - 1);
    if (upTo <= this.ackedSeq) return;
    this.ackedSeq = upTo;
    while (this.head < this.lines.length && this.base + this.head <= upTo) {
      this.bytes -= this.sizes[this.head]!;
      this.lines[this.head] = '';
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
