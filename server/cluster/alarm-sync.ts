/**
 * One alarm set across the servers of a cluster (docs/cluster.md):
 *
 *  - the cluster's alarm sequence (sequence.ts): a slot per server from a KV
 *    counter, seqs above every seq seen;
 *  - every transition a server makes goes to the others on the core NATS
 *    subject `gwc.alarm` (at most once); each applies it to its set and
 *    pushes it to its WebSocket clients, so an alarm raised or acknowledged
 *    on one server is seen on all. The maker journals it; the journal stays
 *    the record a takeover and a start rebuild from;
 *  - the rule state of each partition, saved by its owner in the KV bucket
 *    `<prefix>_rulestate` (key `p<n>`, state-store.ts's format) once the
 *    journal holds what it reflects, and resumed by the next owner before
 *    the partition's readings flow, with the partition's alarms as the
 *    journal holds them.
 */
import type { JetStreamClient, KV, NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import type { TransitionEntry } from '../alarms/journal.ts';
import type { PersistedState } from '../alarms/state-store.ts';
import { nextSeq, takeSlot } from './sequence.ts';

/** core NATS subject of the alarm transitions every server makes */
export const ALARM_SUBJECT = 'gwc.alarm';

/** what cluster mode needs of the alarm service (server/alarms/service.ts) */
export interface ClusterAlarms {
  joinCluster(c: { next(last: number): number; out(entry: TransitionEntry): void }): void;
  applyRemote(t: TransitionEntry): void;
  takeOver(pick: (source: string) => boolean, saved: PersistedState | null): Promise<{ alarms: number; states: number }>;
  exportStates(pick: (source: string) => boolean): { json: string; seq: number };
  whenJournaled(seq: number): Promise<boolean>;
}

/** longest a rule-state save waits for the journal to hold what it reflects, ms */
const JOURNAL_WAIT_MS = 5000;

const enc = new TextEncoder();
const dec = new TextDecoder();

export class AlarmSync {
  private states: KV | null = null;
  private sub: Subscription | null = null;
  private timer: NodeJS.Timeout | null = null;
  private saving: Promise<void> | null = null;
  slot = -1;

  constructor(
    private readonly id: string,
    private readonly o: { bucketPrefix: string; replicas: number; saveMs: number },
    private readonly alarms: ClusterAlarms,
    /** the sources (devices, agents, sites) of a partition */
    private readonly pickOf: (partition: number) => (source: string) => boolean,
    private readonly owned: () => number[],
    private readonly log: Logger,
  ) {}

  /** The sequence slot, before the alarm service makes its first transition. */
  async connect(nc: NatsConnection, js: JetStreamClient): Promise<void> {
    const seqKv = await js.views.kv(`${this.o.bucketPrefix}_seq`, { history: 1, replicas: this.o.replicas });
    this.states = await js.views.kv(`${this.o.bucketPrefix}_rulestate`, { history: 1, replicas: this.o.replicas });
    const slot = (this.slot = await takeSlot(seqKv));
    this.alarms.joinCluster({
      next: (last) => nextSeq(last, slot),
      out: (entry) => {
        if (!nc.isClosed()) nc.publish(ALARM_SUBJECT, enc.encode(JSON.stringify({ from: this.id, entry })));
      },
    });
    this.log.info({ slot }, 'alarm sequence slot taken');
  }

  /** Follows the other servers' transitions; the set is then brought up to the journal once (what was made before we listened). */
  async start(nc: NatsConnection): Promise<void> {
    const sub = (this.sub = nc.subscribe(ALARM_SUBJECT));
    void (async () => {
      for await (const m of sub) {
        try {
          const msg = JSON.parse(dec.decode(m.data)) as { from?: string; entry?: TransitionEntry };
          if (msg.from === this.id || !msg.entry || msg.entry.kind !== 'transition' || !Number.isSafeInteger(msg.entry.seq)) continue;
          this.alarms.applyRemote(msg.entry);
        } catch (err) {
          this.log.warn({ err }, 'alarm transition from another server unreadable; skipped (the journal has it)');
        }
      }
    })();
    await this.alarms.takeOver(() => true, null).catch((err) => this.log.warn({ err }, 'alarm set not brought up to the journal; the fan-out carries what follows'));
    this.timer = setInterval(() => {
      this.saving ??= this.saveOwned().finally(() => (this.saving = null));
    }, this.o.saveMs);
  }

  /** A partition taken: its rule state as its previous owner saved it, and its alarms as the journal holds them. */
  async takeOver(p: number): Promise<void> {
    const e = await this.states!.get(`p${p}`);
    let saved: PersistedState | null = null;
    if (e && e.operation === 'PUT') {
      try {
        saved = JSON.parse(dec.decode(e.value)) as PersistedState;
        if (saved.version !== 1 || typeof saved.states !== 'object' || saved.states === null) throw new Error(`unknown version ${String(saved.version)}`);
      } catch (err) {
        this.log.error({ err, partition: p }, 'saved rule state of the partition unreadable; its rules start afresh');
        saved = null;
      }
    }
    const r = await this.alarms.takeOver(this.pickOf(p), saved);
    this.log.info({ partition: p, alarmsFromJournal: r.alarms, ruleStates: r.states, savedAt: saved?.savedAt }, 'partition alarms and rule state taken over');
  }

  /** Saves a partition's rule state once the journal holds what it reflects (also when given back). */
  async save(p: number): Promise<void> {
    const { json, seq } = this.alarms.exportStates(this.pickOf(p));
    let timer: NodeJS.Timeout | undefined;
    const journaled = await Promise.race([
      this.alarms.whenJournaled(seq),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), JOURNAL_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!journaled) return this.log.warn({ partition: p, seq }, 'rule state of the partition not saved: the journal does not hold its transitions yet');
    await this.states!.put(`p${p}`, enc.encode(json));
  }

  private async saveOwned(): Promise<void> {
    for (const p of this.owned()) await this.save(p).catch((err) => this.log.warn({ err, partition: p }, 'saving the rule state of a partition failed; retried'));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.saving;
    this.sub?.unsubscribe();
    this.sub = null;
  }
}
