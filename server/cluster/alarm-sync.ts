/**
 * One alarm set across the servers of a cluster (docs/cluster.md):
 *
 *  - the cluster's alarm sequence (sequence.ts): a slot per server from a KV
 *    counter, seqs above every seq seen;
 *  - every transition and escalation a server makes goes on the replicated
 *    JetStream stream `<prefix>_alarms` (alarm-stream.ts), one subject per
 *    partition; every server follows it with an ordered consumer, applies
 *    the others' entries to its set and pushes them to its WebSocket
 *    clients. Applying is idempotent by seq, so following from an earlier
 *    point than needed is harmless. A reading is acknowledged only once the
 *    transitions it caused are in the stream (node.ts, `whenDurable`);
 *  - the journal: each server journals what it makes, and the owner of a
 *    partition also journals (again: the journal is keyed by seq) every entry
 *    of the partition's subject another server made. The owner knows the
 *    stream sequence up to which every entry of the partition is journaled
 *    (`checkpoint`) and saves it with the rule state; a server taking the
 *    partition over journals what the stream holds after it, before the
 *    partition's readings flow. A server starting follows the stream from
 *    the smallest saved checkpoint, after reading the journal: no gap;
 *  - the rule state of each partition (rule-state-kv.ts, chunked, manifest
 *    last), saved by its owner once the journal holds what it reflects, and
 *    resumed by the next owner.
 */
import { randomBytes } from 'node:crypto';
import type { JetStreamClient, JetStreamManager, NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { PersistedState } from '../alarms/state-store.ts';
import { AlarmPublisher, alarmSubject, ensureAlarmStream, follow, partitionOfAlarmSubject, replay, type AlarmEntry, type AlarmStreamOptions, type StreamedFrame } from './alarm-stream.ts';
import { RuleStateStore } from './rule-state-kv.ts';
import { nextSeq, takeSlot } from './sequence.ts';

/** what cluster mode needs of the alarm service (server/alarms/service.ts) */
export interface ClusterAlarms {
  joinCluster(c: { next(last: number): number; out(entry: AlarmEntry): void }): void;
  applyRemote(t: AlarmEntry): void;
  takeOver(pick: (source: string) => boolean, saved: PersistedState | null): Promise<{ alarms: number; states: number }>;
  exportStates(pick: (source: string) => boolean): { json: string; seq: number };
  whenJournaled(seq: number): Promise<boolean>;
  /** appends entries another server made (already journaled there, perhaps): a seq written twice is one entry */
  journalCopies(entries: readonly AlarmEntry[]): Promise<void>;
}

/** longest a rule-state save waits for the journal to hold what it reflects, ms */
const JOURNAL_WAIT_MS = 5000;
/** how often the copies of the others' entries of owned partitions are journaled, ms */
const COPY_MS = 200;
const COPY_BATCH = 1000;
/** attempts to journal a takeover's replayed entries before going on without advancing the checkpoint */
const REPLAY_JOURNAL_ATTEMPTS = 5;

/** journaling of an owned partition's entries, by stream sequence */
interface Track {
  /** every entry up to this stream sequence is journaled */
  floor: number;
  /** the largest stream sequence of the partition seen since */
  top: number;
  /** stream sequences seen and not yet journaled, in stream order */
  pending: Map<number, true>;
  /** the takeover's replay is running: frames wait in `held` */
  replaying: boolean;
  held: StreamedFrame[];
}

export interface AlarmSyncOptions {
  bucketPrefix: string;
  replicas: number;
  saveMs: number;
  stream: Omit<AlarmStreamOptions, 'replicas'>;
}

export class AlarmSync {
  private store: RuleStateStore | null = null;
  private publisher: AlarmPublisher | null = null;
  private js: JetStreamClient | null = null;
  private jsm: JetStreamManager | null = null;
  private follower: { stop(): void; done: Promise<void> } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private copyTimer: NodeJS.Timeout | null = null;
  private saving: Promise<void> | null = null;
  private readonly tracks = new Map<number, Track>();
  private copies: { p: number; streamSeq: number; entry: AlarmEntry }[] = [];
  private copying = false;
  private copyFailing = false;
  /** this process on the stream: a restarted server (same id) applies what its previous run made */
  private readonly instance: string;
  slot = -1;

  constructor(
    id: string,
    private readonly o: AlarmSyncOptions,
    private readonly alarms: ClusterAlarms,
    /** the sources (devices, agents, sites) of a partition */
    private readonly pickOf: (partition: number) => (source: string) => boolean,
    private readonly partitionOfSource: (source: string) => number | null,
    private readonly owned: () => number[],
    private readonly log: Logger,
  ) {
    this.instance = `${id}.${randomBytes(4).toString('hex')}`;
  }

  /** The sequence slot and the stream, before the alarm service makes its first transition. */
  async connect(_nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager): Promise<void> {
    this.js = js;
    this.jsm = jsm;
    const seqKv = await js.views.kv(`${this.o.bucketPrefix}_seq`, { history: 1, replicas: this.o.replicas });
    this.store = new RuleStateStore(await js.views.kv(`${this.o.bucketPrefix}_rulestate`, { history: 1, replicas: this.o.replicas }));
    await ensureAlarmStream(jsm, { ...this.o.stream, replicas: this.o.replicas });
    const publisher = (this.publisher = new AlarmPublisher(js, this.o.stream.name, this.instance, this.log));
    const slot = (this.slot = await takeSlot(seqKv));
    this.alarms.joinCluster({
      next: (last) => nextSeq(last, slot),
      out: (entry) => publisher.publish(alarmSubject(this.partitionOfSource(entry.source)), entry),
    });
    this.log.info({ slot, stream: this.o.stream.name }, 'alarm sequence slot taken');
  }

  /** the largest seq this server handed to the stream */
  get lastOut(): number {
    return this.publisher?.last ?? 0;
  }

  /** Resolves once every entry this server made up to `seq` is in the stream. */
  whenDurable(seq: number): Promise<void> {
    return this.publisher ? this.publisher.whenDurable(seq) : Promise.resolve();
  }

  /**
   * The set brought up to the journal, then the stream followed from the
   * smallest checkpoint any partition's owner saved: what is before it is
   * journaled, what is after it comes from the stream.
   */
  async start(partitions: number): Promise<void> {
    let from = Number.POSITIVE_INFINITY;
    for (let p = 0; p < partitions && from > 1; p++) {
      const m = await this.store!.manifest(p).catch(() => null);
      from = Math.min(from, (m?.streamSeq ?? 0) + 1);
    }
    await this.alarms.takeOver(() => true, null).catch((err) => this.log.warn({ err }, 'alarm set not brought up to the journal; the stream carries what follows'));
    this.follower = await follow(this.js!, this.o.stream.name, from, (f) => this.onFrame(f), this.log);
    this.log.info({ fromStreamSeq: from }, 'following the alarm stream');
    this.timer = setInterval(() => {
      this.saving ??= this.saveOwned().finally(() => (this.saving = null));
    }, this.o.saveMs);
    this.copyTimer = setInterval(() => void this.journalCopies(), COPY_MS);
  }

  private onFrame(f: StreamedFrame): void {
    if (!f.frame) this.log.warn({ streamSeq: f.streamSeq, subject: f.subject }, 'alarm transition from another server unreadable; skipped');
    else if (f.frame.from !== this.instance) this.alarms.applyRemote(f.frame.entry);
    const p = partitionOfAlarmSubject(f.subject);
    const t = p === null ? undefined : this.tracks.get(p);
    if (!t) return;
    if (t.replaying) t.held.push(f);
    else this.trackFrame(p!, t, f);
  }

  /** An entry of an owned partition: journaled by this server (its own) or copied (another's). */
  private trackFrame(p: number, t: Track, f: StreamedFrame): void {
    if (f.streamSeq <= t.floor || f.streamSeq <= t.top) return;
    t.top = f.streamSeq;
    if (!f.frame) return;
    t.pending.set(f.streamSeq, true);
    if (f.frame.from === this.instance)
      void this.alarms.whenJournaled(f.frame.entry.seq).then((ok) => ok && t.pending.delete(f.streamSeq));
    else this.copies.push({ p, streamSeq: f.streamSeq, entry: f.frame.entry });
  }

  /** Everything of the partition up to the returned stream sequence is journaled. */
  checkpoint(p: number): number {
    const t = this.tracks.get(p);
    if (!t) return 0;
    if (t.replaying) return t.floor;
    for (const first of t.pending.keys()) return first - 1;
    return Math.max(t.floor, t.top);
  }

  private async journalCopies(): Promise<void> {
    if (this.copying || this.copies.length === 0) return;
    this.copying = true;
    const batch = this.copies.slice(0, COPY_BATCH);
    try {
      await this.alarms.journalCopies(batch.map((c) => c.entry));
      this.copies.splice(0, batch.length);
      for (const c of batch) this.tracks.get(c.p)?.pending.delete(c.streamSeq);
      if (this.copyFailing) this.log.info('journaling the other servers\' alarm entries recovered');
      this.copyFailing = false;
    } catch (err) {
      if (!this.copyFailing) this.log.error({ err, pending: this.copies.length }, 'journaling the other servers\' alarm entries of owned partitions failed; retried');
      this.copyFailing = true;
    } finally {
      this.copying = false;
    }
  }

  /**
   * A partition taken: what its stream subject holds after the saved
   * checkpoint journaled and applied, then its rule state as its previous
   * owner saved it and its alarms as the journal holds them.
   */
  async takeOver(p: number): Promise<void> {
    let saved: PersistedState | null = null;
    let floor = 0;
    try {
      const loaded = await this.store!.load(p);
      if (loaded) ({ state: saved, streamSeq: floor } = loaded);
    } catch (err) {
      this.log.error({ err, partition: p }, 'saved rule state of the partition unreadable; its rules start afresh');
      floor = (await this.store!.manifest(p).catch(() => null))?.streamSeq ?? 0;
    }
    const t: Track = { floor, top: floor, pending: new Map(), replaying: true, held: [] };
    this.tracks.set(p, t);
    const { frames, toSeq } = await replay(this.js!, this.jsm!, this.o.stream.name, alarmSubject(p), floor + 1);
    const entries = frames.flatMap((f) => (f.frame ? [f.frame.entry] : []));
    let journaled = entries.length === 0;
    for (let i = 0; i < REPLAY_JOURNAL_ATTEMPTS && !journaled; i++) {
      try {
        for (let j = 0; j < entries.length; j += COPY_BATCH) await this.alarms.journalCopies(entries.slice(j, j + COPY_BATCH));
        journaled = true;
      } catch (err) {
        if (i === REPLAY_JOURNAL_ATTEMPTS - 1) this.log.error({ err, partition: p, entries: entries.length }, 'the partition\'s alarm entries from the stream not journaled; the next owner replays them again');
        else await new Promise((r) => setTimeout(r, 200 * 2 ** i));
      }
    }
    for (const f of frames) if (f.frame && f.frame.from !== this.instance) this.alarms.applyRemote(f.frame.entry);
    if (journaled) t.floor = t.top = Math.max(floor, toSeq);
    t.replaying = false;
    for (const f of t.held.splice(0)) this.trackFrame(p, t, f);
    // a journal that failed above keeps the floor where the replay began (the next owner replays from there)
    if (!journaled) t.pending.set(toSeq, true);
    const r = await this.alarms.takeOver(this.pickOf(p), saved);
    this.log.info({ partition: p, fromStream: entries.length, streamSeq: toSeq, alarmsFromJournal: r.alarms, ruleStates: r.states, savedAt: saved?.savedAt }, 'partition alarms and rule state taken over');
  }

  /** Saves a partition's rule state once the journal holds what it reflects (also when given back). */
  async save(p: number): Promise<void> {
    if (!this.tracks.has(p)) return;
    const { json, seq } = this.alarms.exportStates(this.pickOf(p));
    let timer: NodeJS.Timeout | undefined;
    const journaled = await Promise.race([
      this.alarms.whenJournaled(seq),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), JOURNAL_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!journaled) return this.log.warn({ partition: p, seq }, 'rule state of the partition not saved: the journal does not hold its transitions yet');
    await this.store!.save(p, json, Date.now(), this.checkpoint(p));
  }

  /** A partition no longer owned: its entries are its next owner's to journal. */
  forget(p: number): void {
    this.tracks.delete(p);
    this.copies = this.copies.filter((c) => c.p !== p);
  }

  private async saveOwned(): Promise<void> {
    for (const p of this.owned()) await this.save(p).catch((err) => this.log.warn({ err, partition: p }, 'saving the rule state of a partition failed; retried'));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.copyTimer) clearInterval(this.copyTimer);
    this.timer = this.copyTimer = null;
    await this.saving;
    this.follower?.stop();
    await this.follower?.done;
    this.follower = null;
  }
}
