/**
 * Writes alarm journal entries in the background, in seq order: retried until
 * stored (doubling pauses up to 5 s), drained at stop, so alarm latency never
 * waits for the store. Knows the largest seq durably stored, so the rule
 * state can be saved no further than the journal (state-store.ts).
 */
import type { Logger } from 'pino';
import type { AlarmJournal, JournalEntry } from './journal.ts';

/** journal entries per store write */
const JOURNAL_BATCH = 1000;
/** pause between journal writes while fewer than a batch wait (see write) */
const JOURNAL_GATHER_MS = 25;

export class JournalWriter {
  private queue: JournalEntry[] = [];
  private writing = false;
  private failing = false;
  private idleWaiters: Array<() => void> = [];
  /** the largest seq the journal has durably stored (its entries are written in seq order) */
  private stored = 0;
  /** callers waiting for a seq to be stored (resolved false when given up) */
  private seqWaiters: Array<{ seq: number; done: (ok: boolean) => void }> = [];

  constructor(
    private readonly journal: AlarmJournal,
    private readonly log: Logger,
  ) {}

  /** The journal's last seq at start: everything up to it is stored. */
  startAt(seq: number): void {
    this.stored = seq;
  }

  get storedSeq(): number {
    return this.stored;
  }

  /** Entries queued, not yet stored, in seq order. */
  get pending(): readonly JournalEntry[] {
    return this.queue;
  }

  /** Queues an entry (its seq the next one) and starts writing if idle. */
  append(e: JournalEntry): void {
    this.queue.push(e);
    if (!this.writing) void this.write();
  }

  private async write(): Promise<void> {
    this.writing = true;
    let delay = 100;
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, JOURNAL_BATCH);
      try {
        await this.journal.append(batch);
        this.queue.splice(0, batch.length);
        this.storedUpTo(batch.at(-1)!.seq);
        if (this.failing) this.log.info({ from: 'failing', to: 'healthy' }, 'alarm journal writes recovered');
        this.failing = false;
        delay = 100;
        // In a burst of transitions, let the next ones gather for a moment: one
        // write per few ms each carrying one or two entries cost more CPU (an
        // HTTP request each) than the evaluation that produced them, on the
        // event loop that delivers alarms. Pushes never wait for the journal.
        if (this.queue.length > 0 && this.queue.length < JOURNAL_BATCH) await sleep(JOURNAL_GATHER_MS);
      } catch (err) {
        if (!this.failing) this.log.error({ err, from: 'healthy', to: 'failing', pending: this.queue.length }, 'alarm journal write failed; retrying');
        this.failing = true;
        await sleep(delay);
        delay = Math.min(5000, delay * 2);
      }
    }
    this.writing = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private storedUpTo(seq: number): void {
    if (seq > this.stored) this.stored = seq;
    if (this.seqWaiters.length === 0) return;
    const ready = this.seqWaiters.filter((w) => w.seq <= this.stored);
    this.seqWaiters = this.seqWaiters.filter((w) => w.seq > this.stored);
    for (const w of ready) w.done(true);
  }

  /** Resolves true once the journal has stored `seq`, false when given up (`giveUp`). */
  whenStored(seq: number): Promise<boolean> {
    if (seq <= this.stored) return Promise.resolve(true);
    return new Promise((done) => this.seqWaiters.push({ seq, done }));
  }

  /** Every `whenStored` still waiting resolves false (a stop with the journal failing). */
  giveUp(): void {
    for (const w of this.seqWaiters.splice(0)) w.done(false);
  }

  /** Resolves true once every entry so far is stored, false after the timeout. */
  async drain(timeoutMs = 10_000): Promise<boolean> {
    if (!this.writing && this.queue.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      new Promise<boolean>((r) => this.idleWaiters.push(() => r(true))),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return ok;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
