/**
 * The alarm rules of a cluster (docs/cluster.md, Rules): one document for
 * every server, in the replicated KV bucket `<prefix>_rules`, key
 * `document`, a revision per change.
 *
 *  - A change through any server's API is validated there and written here
 *    with compare-and-set on the revision it was based on
 *    (server/alarms/rules-admin.ts): a change another server wrote first
 *    refuses it with the current revision, nothing is overwritten.
 *  - Every server watches the key and installs each new revision through the
 *    same path as a change made on it (rule state of the rules kept), without
 *    journaling it: the server the change was made on journals it (and writes
 *    its audit entry). A get every `POLL_MS` makes up for a watch that
 *    stalled (a NATS node lost) and applies what changed while this server
 *    was disconnected.
 *  - The server a change was made on announces its journal seq on the core
 *    NATS subject `gwc.rules` (at most once: the journal has it); each other
 *    server sends the `alarm_rules` frame to its WebSocket clients once the
 *    revision is in force there.
 *  - At start the latest revision is in force; a server whose rules file
 *    differs says so and takes the bucket's (and saves it to its file). The
 *    first server to start seeds the bucket from its rules file.
 */
import type { KV, KvEntry, NatsConnection, QueuedIterator, Subscription } from 'nats';
import type { RulesEntry } from '../alarms/journal.ts';
import type { Logger } from 'pino';
import { GridwatchError } from '../errors.ts';
import type { JsonObject } from '../rules/index.ts';
import { RulesConflict, type RulesAdmin, type RulesChange, type SharedRevision, type SharedRules } from '../alarms/rules-admin.ts';
import { RulesRejected } from '../alarms/service-types.ts';

/** the key of the rules document in `<prefix>_rules` */
export const RULES_KEY = 'document';
/** revisions the bucket keeps (JetStream's largest per-key history) */
const HISTORY = 64;
/** how long a refused change waits for the revision that won to be readable, ms */
const REFUSED_WAIT_MS = 2000;
/** how often the latest revision is read besides the watch, ms */
const POLL_MS = 2000;
/** core NATS subject of the journal seqs of rules changes, for the other servers' WebSocket clients */
export const RULES_SUBJECT = 'gwc.rules';
/** frames of revisions not yet in force here, kept at most */
const PENDING_MAX = 64;

type RulesFrame = Omit<RulesEntry, 'document'>;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A revision as the bucket holds it. */
interface Stored extends RulesChange {
  document: JsonObject;
  /** the server the change was made on */
  from: string;
  /** epoch ms */
  at: number;
}

/**
 * Writes `data` as the value of `key` in the KV bucket `bucket` only if the
 * bucket's stream is at sequence `base` (the key's revision when the bucket
 * holds that one key); the new revision, or a "wrong last sequence" error.
 */
export async function compareAndSet(nc: NatsConnection, bucket: string, key: string, data: Uint8Array, base: number): Promise<number> {
  const ack = await nc.jetstream().publish(`$KV.${bucket}.${key}`, data, {
    expect: { streamName: `KV_${bucket}`, lastSequence: base, lastSubjectSequence: base },
  });
  return ack.seq;
}

export class RulesSync implements SharedRules {
  private kv: KV | null = null;
  private maxPayload = 1024 * 1024;
  private watcher: QueuedIterator<KvEntry> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private watching: Promise<void> | null = null;
  private stopped = true;
  /** a revision refused here or unreadable, logged once */
  private refused = 0;
  private nc: NatsConnection | null = null;
  private sub: Subscription | null = null;
  /** frames of changes on other servers whose revision is not in force here yet, by revision */
  private readonly pending = new Map<number, RulesFrame>();

  constructor(
    private readonly id: string,
    private readonly o: { bucketPrefix: string; replicas: number },
    private readonly admin: RulesAdmin,
    private readonly log: Logger,
    /** the `alarm_rules` frame of a change another server made, to this server's clients (AlarmService.pushRemoteRules) */
    private readonly frame?: (change: RulesFrame) => void,
  ) {}

  /** Before the readings flow: the cluster's rules in force here (or this server's seeded), then the watch. */
  async start(nc: NatsConnection): Promise<void> {
    this.kv = await nc.jetstream().views.kv(`${this.o.bucketPrefix}_rules`, { history: HISTORY, replicas: this.o.replicas });
    this.maxPayload = nc.info?.max_payload ?? this.maxPayload;
    this.admin.share(this, this.log);
    this.stopped = false;
    this.nc = nc;
    this.listen(nc);
    await this.atStart();
    this.watching = this.watch();
    this.timer = setInterval(() => {
      this.polling ??= this.poll().finally(() => (this.polling = null));
    }, POLL_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watcher?.stop();
    this.sub?.unsubscribe();
    this.sub = null;
    await this.polling;
    await this.watching;
  }

  /** The other servers' announcements: each frame goes out once its revision is in force here. */
  private listen(nc: NatsConnection): void {
    if (!this.frame) return;
    const sub = (this.sub = nc.subscribe(RULES_SUBJECT));
    void (async () => {
      for await (const m of sub) {
        try {
          const a = JSON.parse(dec.decode(m.data)) as { from?: string; revision?: number; frame?: RulesFrame };
          if (a.from === this.id || !Number.isSafeInteger(a.revision) || !a.frame || a.frame.kind !== 'rules' || !Number.isSafeInteger(a.frame.seq)) continue;
          this.pending.set(a.revision!, a.frame);
          if (this.pending.size > PENDING_MAX) this.pending.delete(this.pending.keys().next().value!);
          this.flushFrames();
        } catch (err) {
          this.log.warn({ err }, 'rules change announcement of another server unreadable; skipped (the journal has it)');
        }
      }
    })();
  }

  private flushFrames(): void {
    const inForce = this.admin.info().revision ?? 0;
    for (const [revision, f] of [...this.pending].sort((a, b) => a[0] - b[0])) {
      if (revision > inForce) continue;
      this.pending.delete(revision);
      this.frame?.(f);
    }
  }

  private async atStart(): Promise<void> {
    let latest = await this.latest();
    if (!latest) {
      const here = this.admin.info();
      try {
        const revision = await this.kv!.create(RULES_KEY, this.encode(here.document, { by: '', ruleId: '' }));
        this.admin.adopt(revision);
        this.log.info({ revision, origin: here.origin }, 'cluster rules seeded from this server\'s rules');
        return;
      } catch {
        // another server seeded it a moment ago
        latest = await this.latest();
        if (!latest) throw new Error('the cluster\'s rules bucket has no document and refuses one');
      }
    }
    if (this.admin.holds(latest.document)) {
      this.admin.adopt(latest.revision);
      this.log.info({ revision: latest.revision }, 'rules file is the cluster\'s rules');
      return;
    }
    this.log.warn({ revision: latest.revision, from: latest.from, file: this.admin.file }, 'rules file differs from the cluster\'s rules: the cluster\'s are in force (and saved to the file)');
    if ((await this.admin.applyShared(latest)) === 'refused') this.refused = latest.revision;
  }

  private async watch(): Promise<void> {
    let failing = false;
    while (!this.stopped) {
      try {
        const it = (this.watcher = await this.kv!.watch({ key: RULES_KEY }));
        // stopped while the watch was being made: stop() found none to end
        if (this.stopped) it.stop();
        failing = false;
        for await (const e of it) await this.apply(e);
      } catch (err) {
        // once per outage: the reads every POLL_MS keep the rules current meanwhile
        if (!this.stopped && !failing) this.log.warn({ err }, 'watching the cluster\'s rules failed; watched again every second');
        failing = true;
      }
      if (!this.stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private async poll(): Promise<void> {
    try {
      const e = await this.kv!.get(RULES_KEY);
      if (e) await this.apply(e);
    } catch (err) {
      this.log.debug({ err }, 'reading the cluster\'s rules failed; read again later');
    }
  }

  /** A revision seen by the watch or a read: installed here unless in force already. */
  private async apply(e: KvEntry): Promise<void> {
    if (e.operation !== 'PUT' || e.revision <= (this.admin.info().revision ?? 0) || e.revision === this.refused) return;
    const rev = this.decode(e);
    if (!rev) {
      this.refused = e.revision;
      return;
    }
    // from here, yet not in force here: written, but its answer was lost (the change was answered with an error)
    const lost = rev.from === this.id;
    const r = await this.admin.applyShared(rev, lost);
    if (r === 'refused') this.refused = e.revision;
    else this.flushFrames();
    if (r === 'applied') this.log.info({ revision: rev.revision, from: rev.from, by: rev.change.by, ruleId: rev.change.ruleId || undefined, journaled: lost }, 'cluster rules revision in force');
  }

  // ---------------------------------------------------------------- SharedRules (rules-admin.ts)

  announce(c: RulesChange & { revision: number; seq: number; at: number }): void {
    const frame: RulesFrame = { kind: 'rules', seq: c.seq, at: c.at, by: c.by, ruleId: c.ruleId, ...(c.comment ? { comment: c.comment } : {}) };
    if (this.nc && !this.nc.isClosed()) this.nc.publish(RULES_SUBJECT, enc.encode(JSON.stringify({ from: this.id, revision: c.revision, frame })));
  }

  async commit(document: JsonObject, change: RulesChange, base: number): Promise<number> {
    const data = this.encode(document, change);
    if (data.byteLength > this.maxPayload)
      throw new RulesRejected([{ path: '(root)', message: `the rules document takes ${data.byteLength} bytes; a cluster's NATS takes at most ${this.maxPayload} in one message (max_payload)` }]);
    try {
      // compare-and-set on the stream's last sequence, not only on the key's: a clustered stream
      // of nats-server before 2.9.21 checks the key's expected sequence before its Raft proposal,
      // so two changes on the same revision made at once could both be written; its check of the
      // stream's last sequence counts proposals in flight. The bucket holds this one key, so the
      // stream's last sequence is the key's revision.
      return await compareAndSet(this.nc!, `${this.o.bucketPrefix}_rules`, RULES_KEY, data, base);
    } catch (err) {
      if (/wrong last sequence|last sequence mismatch/i.test(String((err as Error)?.message ?? err))) {
        const now = await this.revisionAfter(base);
        this.log.warn({ base, revision: now?.revision, by: change.by, ruleId: change.ruleId || undefined }, 'rules change refused: the cluster\'s rules changed meanwhile');
        throw new RulesConflict(base, now?.revision ?? null);
      }
      throw new GridwatchError('GW_ERR_RULES_UNAVAILABLE', `the cluster's rules could not be written (${String((err as Error)?.message ?? err)}); nothing changed unless GET /api/alarm-rules shows it`, { cause: err, retryable: true });
    }
  }

  /**
   * The latest revision once it is past `base`: a write refused because another one is in flight
   * is refused before that one is stored, and the conflict names the revision that won. Waits at
   * most REFUSED_WAIT_MS; then whatever is latest (null when it cannot be read).
   */
  private async revisionAfter(base: number): Promise<SharedRevision | null> {
    const until = Date.now() + REFUSED_WAIT_MS;
    for (;;) {
      const now = await this.latest().catch(() => null);
      if (!now || now.revision > base || Date.now() >= until) return now;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async latest(): Promise<SharedRevision | null> {
    let e: KvEntry | null;
    try {
      e = await this.kv!.get(RULES_KEY);
    } catch (err) {
      throw new GridwatchError('GW_ERR_RULES_UNAVAILABLE', `the cluster's rules could not be read: ${String((err as Error)?.message ?? err)}`, { cause: err, retryable: true });
    }
    return e && e.operation === 'PUT' ? this.decode(e) : null;
  }

  private encode(document: JsonObject, change: RulesChange): Uint8Array {
    const stored: Stored = { ...change, document, from: this.id, at: Date.now() };
    return enc.encode(JSON.stringify(stored));
  }

  private decode(e: KvEntry): SharedRevision | null {
    try {
      const s = JSON.parse(dec.decode(e.value)) as Partial<Stored>;
      if (typeof s.document !== 'object' || s.document === null || Array.isArray(s.document)) throw new Error('no document');
      const change: RulesChange = { by: typeof s.by === 'string' ? s.by : '', ruleId: typeof s.ruleId === 'string' ? s.ruleId : '' };
      if (typeof s.comment === 'string') change.comment = s.comment;
      return { revision: e.revision, document: s.document, change, from: typeof s.from === 'string' ? s.from : '' };
    } catch (err) {
      if (e.revision !== this.refused) this.log.error({ err, revision: e.revision }, 'cluster rules revision unreadable; skipped');
      return null;
    }
  }
}
