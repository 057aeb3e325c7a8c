/**
 * The ingest's write path: accepted messages queued, written to the store in
 * batches (several in flight), retried while the store fails, and handed to
 * the watermarks in order once stored.
 *
 * Backpressure: an MQTT message's PUBACK is withheld (`ack`) while more than
 * `maxPending` readings wait for the store, so a slow or down store makes the
 * broker hold messages instead of this process growing without bound.
 */
import type { Logger } from 'pino';
import type { TelemetryStore, StoredReading } from './store/types.ts';
import type { Metrics } from './metrics.ts';

export interface WriteQueueOptions {
  batchSize: number;
  flushIntervalMs: number;
  maxPending: number;
  /** store writes in flight at once */
  writeConcurrency: number;
}

/**
 * One accepted message held until the store confirms it: one object per
 * message, not per reading, so what waits through a store write (100–400 ms
 * under load) is a handful of objects for the garbage collector to copy, not
 * one per reading (those were promoted to the old generation and paid for
 * in mark-compact pauses on the loop that delivers alarms).
 */
export interface Pending {
  agent: string;
  /** the seqs this message settles once stored, in order: its readings', then its rejected readings' (handled, not stored) */
  seqs: number[];
  /** the readings, until encoded in `chunk` (a store without `encode` takes them as they are) */
  readings: StoredReading[] | null;
  /** the store's encoding of the readings (TelemetryStore.encode) */
  chunk?: Uint8Array;
  /** readings to store */
  lines: number;
  /** epoch ms the message arrived: the age of the oldest held reading is the store lag */
  at: number;
  /** the message's envelope (ReadingsMessage.from / next / skip), applied before its seqs */
  from?: number;
  next?: number;
  skip?: [number, number][];
  /** cluster mode: acknowledges the JetStream message once stored (server/cluster/) */
  stored?: () => void;
}

interface InFlight {
  items: Pending[];
  done: boolean;
  /** seqs of its items (for `held`) */
  seqs: number;
}

export class WriteQueue {
  private queue: Pending[] = [];
  /** readings to store in `queue`, and seqs it settles (readings plus rejected ones) */
  private queuedLines = 0;
  private queuedSeqs = 0;
  /** seqs of the batches in `inflight` */
  private inflightSeqs = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private waiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  /** batches being written or written but waiting for an older one before their watermarks advance, oldest first */
  private readonly inflight: InFlight[] = [];
  /** store writes in progress (the inflight batches not yet done) */
  private writing = 0;
  private abandoned = false;
  lastStoredAt: number | null = null;
  storeHealthy = true;

  constructor(
    private readonly opts: WriteQueueOptions,
    private readonly deps: {
      store: TelemetryStore;
      metrics: Metrics;
      log: Logger;
      now: () => number;
      /** the messages of stored batches, oldest first: what their watermarks may now cover */
      settled: (items: Pending[]) => void;
    },
  ) {}

  start(): void {
    this.stopped = false;
  }

  /** No more batches are started by the timer (drain still writes what is queued). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Stops retrying failed writes (at stop, after the drain timed out): what they held stays below the watermarks. */
  abandon(): void {
    this.abandoned = true;
  }

  /** readings held in memory (rejected ones included until their message is settled): queued plus being written */
  get held(): number {
    return this.queuedSeqs + this.inflightSeqs;
  }

  /** How long the oldest reading not yet stored has been waiting, ms (0 when none waits). */
  storeLagMs(now: number): number {
    const oldest = this.inflight[0]?.items[0] ?? this.queue[0];
    return oldest ? Math.max(0, now - oldest.at) : 0;
  }

  push(item: Pending): void {
    this.queue.push(item);
    this.queuedSeqs += item.seqs.length;
    this.queuedLines += item.lines;
  }

  /** Calls `done` (the PUBACK) now, or once the readings held are below `maxPending` again. */
  ack(done: () => void): void {
    if (this.held < this.opts.maxPending) done();
    else this.waiters.push(done);
  }

  /** Lets every withheld PUBACK go (at stop). */
  releaseAll(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Replaces a held message's readings by the store's encoding of them, when
   * the store has one. An encoder that throws (a bug) leaves the readings as
   * they are: the batch's write then fails and is retried, loudly, and
   * nothing is lost or acknowledged past them.
   */
  encode(item: Pending): void {
    const encode = this.deps.store.encode;
    if (!encode || !item.readings) return;
    try {
      item.chunk = encode.call(this.deps.store, item.readings);
      item.readings = null;
    } catch (err) {
      this.deps.log.error({ err, agent: item.agent, readings: item.lines }, 'encoding readings for the store failed');
    }
  }

  scheduleFlush(): void {
    if (this.timer || this.stopped || this.queue.length === 0) return;
    // a batch stored ahead of an older one waits for it in `inflight` but no longer takes a writer
    if (this.writing >= this.opts.writeConcurrency) return;
    // while the store is failing only the batches already in flight retry
    if (!this.storeHealthy && this.inflight.length > 0) return;
    const delay = this.queuedLines >= this.opts.batchSize ? 0 : this.opts.flushIntervalMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.startWrite();
      this.scheduleFlush();
    }, delay);
  }

  /** Takes the next batch off the queue and writes it; batches complete out of order but watermarks advance in order. */
  private startWrite(): void {
    // whole messages, up to batchSize readings (at least one message)
    let n = 0;
    let lines = 0;
    let seqCount = 0;
    while (n < this.queue.length && (n === 0 || lines + this.queue[n]!.lines <= this.opts.batchSize)) {
      lines += this.queue[n]!.lines;
      seqCount += this.queue[n]!.seqs.length;
      n++;
    }
    if (n === 0) return;
    const items = this.queue.splice(0, n);
    this.queuedLines -= lines;
    this.queuedSeqs -= seqCount;
    this.inflightSeqs += seqCount;
    const rec: InFlight = { items, done: false, seqs: seqCount };
    this.inflight.push(rec);
    this.writing++;
    void this.writeUntilStored(rec);
  }

  private async writeUntilStored(rec: InFlight): Promise<void> {
    const readings: StoredReading[] = [];
    const encoded: Uint8Array[] = [];
    let count = 0;
    for (const p of rec.items) {
      // a batch that leaves before the ingest's `afterRules` ran (a full batch, a timer first in the loop's turn)
      this.encode(p);
      if (p.chunk) encoded.push(p.chunk);
      else if (p.readings) for (const r of p.readings) readings.push(r);
      count += p.lines;
    }
    const { metrics, log, store } = this.deps;
    let delay = 100;
    for (;;) {
      const t0 = performance.now();
      try {
        if (readings.length) await store.write(readings);
        if (encoded.length) await store.writeEncoded!(encoded);
        metrics.storeLatency.observe((performance.now() - t0) / 1000);
        break;
      } catch (err) {
        metrics.storeErrors.inc();
        if (this.storeHealthy) log.error({ err, from: 'healthy', to: 'failing', batch: count }, 'store write failed; holding readings and retrying');
        this.storeHealthy = false;
        if (this.abandoned) return;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(5000, delay * 2);
      }
    }
    if (!this.storeHealthy) log.info({ from: 'failing', to: 'healthy' }, 'store writes recovered');
    this.storeHealthy = true;
    metrics.batchSize.observe(count);
    metrics.stored.inc(count);
    this.lastStoredAt = this.deps.now();
    rec.done = true;
    this.writing--;
    // a watermark may only cover batches that are all stored: advance from the oldest
    while (this.inflight[0]?.done) {
      const settled = this.inflight.shift()!;
      this.inflightSeqs -= settled.seqs;
      this.deps.settled(settled.items);
    }
    metrics.queueDepth.set(this.held);
    this.releaseWaiters();
    this.scheduleFlush();
    if (this.inflight.length === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private releaseWaiters(): void {
    while (this.waiters.length && this.held < this.opts.maxPending) this.waiters.shift()!();
  }

  /** Writes everything queued now; resolves when all of it is stored or the timeout passes. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.queue.length > 0 && this.writing < this.opts.writeConcurrency) this.startWrite();
    if (this.inflight.length === 0 && this.queue.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const ok = await Promise.race([idle, timeout]);
    clearTimeout(timer);
    return ok;
  }
}
