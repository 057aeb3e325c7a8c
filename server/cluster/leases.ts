/**
 * Who handles which partition, decided with NATS itself: two JetStream
 * key-value buckets whose entries lapse after `leaseTtlMs` without a write.
 *
 * - `<prefix>_members`: one key per live server, rewritten every `renewMs`.
 * - `<prefix>_leases`: one key per partition (`p<n>`), holding the owner's
 *   id: a KvLease (kv-lease.ts) — taken with `create`, renewed with `update`
 *   at the revision last written (refused once the lease lapsed and another
 *   server took it: the owner then stops at once), given back with `delete`
 *   at that revision.
 *
 * Partition p belongs to the live servers sorted by id, the (p mod n)-th;
 * a server releases what is no longer its own (a server joined) and takes
 * what is (a server left, or its lease lapsed). The owner of a partition is
 * the only server consuming it, so all of one agent's readings are handled
 * by one server at a time.
 */
import type { JetStreamManager, KV } from 'nats';
import type { Logger } from 'pino';
import { KvLease, leaseHolder, Rounds } from './kv-lease.ts';

/** Partitions `id` should own among `members` (every live server, `id` included). */
export function assignedTo(id: string, members: readonly string[], partitions: number): number[] {
  const sorted = [...new Set([...members, id])].sort();
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) if (sorted[p % sorted.length] === id) out.push(p);
  return out;
}

export interface LeaseEvents {
  /** the partition is ours: start consuming it (resolves once it runs) */
  acquired(partition: number): Promise<void>;
  /** give the partition back: stop consuming, let what was taken be stored and acknowledged (resolves when done) */
  releasing(partition: number): Promise<void>;
  /** the lease lapsed under us (another server may run it already): stop consuming at once */
  lost(partition: number): void;
}

const enc = new TextEncoder();

export class PartitionLeases {
  /** partition → our lease on it */
  private readonly held = new Map<number, KvLease>();
  /** partitions being started or given back (not touched by another rebalance meanwhile) */
  private readonly busy = new Set<number>();
  /** renewal on its own rounds: starting or giving back a partition (a store drain) never delays it */
  private readonly renewals: Rounds;
  private readonly balances: Rounds;
  private stopped = true;
  private lastMembers: string[] = [];

  constructor(
    private readonly id: string,
    private readonly partitions: number,
    private readonly renewMs: number,
    private readonly kv: { members: KV; leases: KV },
    private readonly events: LeaseEvents,
    private readonly log: Logger,
  ) {
    this.renewals = new Rounds(() => this.renew(), renewMs);
    this.balances = new Rounds(() => this.balance(), renewMs);
  }

  /** partitions held now, ascending */
  owned(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  owns(partition: number): boolean {
    return this.held.has(partition);
  }

  /** live servers at the last round */
  members(): string[] {
    return this.lastMembers;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.renew();
    await this.balance();
    this.renewals.start();
    this.balances.start();
  }

  /** Gives every partition back (in parallel, each once what it took is stored) and leaves the members. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.balances.stop();
    await Promise.all(this.owned().map((p) => this.release(p)));
    await this.renewals.stop();
    await this.kv.members.delete(this.id).catch(() => undefined);
  }

  /** Heartbeat and every lease renewed at the revision we wrote last. */
  private async renew(): Promise<void> {
    try {
      await this.kv.members.put(this.id, enc.encode(JSON.stringify({ at: Date.now() })));
    } catch (err) {
      this.log.warn({ err }, 'cluster heartbeat failed; retried');
    }
    await Promise.all(
      [...this.held].map(async ([p, lease]) => {
        const r = await lease.renew();
        if (r.kind === 'transient') return this.log.warn({ err: r.err, partition: p }, 'lease renewal failed; retried');
        if (r.kind !== 'lost' || this.held.get(p) !== lease) return; // renewed, or given back meanwhile
        this.held.delete(p);
        this.log.error({ err: r.err, partition: p }, 'partition lease lost (lapsed, or taken by another server); stopped consuming it');
        this.events.lost(p);
      }),
    );
  }

  /** Releases what is no longer ours (a server joined) and takes what is (a server left, a lease lapsed). */
  private async balance(): Promise<void> {
    if (this.stopped) return;
    try {
      const members = await liveKeys(this.kv.members);
      this.lastMembers = members;
      const mine = new Set(assignedTo(this.id, members, this.partitions));
      const work: Promise<void>[] = [];
      for (const p of this.owned()) if (!mine.has(p) && !this.busy.has(p)) work.push(this.release(p));
      for (const p of mine) if (!this.held.has(p) && !this.busy.has(p)) work.push(this.tryTake(p));
      await Promise.all(work);
    } catch (err) {
      this.log.warn({ err }, 'cluster rebalance round failed; retried');
    }
  }

  private async tryTake(p: number): Promise<void> {
    const lease = new KvLease(this.kv.leases, key(p), this.id);
    if (!(await lease.take())) return; // another server's lease still lives: it lapses or is given back
    this.held.set(p, lease);
    this.busy.add(p);
    this.log.info({ partition: p }, 'partition lease taken');
    try {
      await this.events.acquired(p);
    } catch (err) {
      this.log.error({ err, partition: p }, 'starting a partition failed; lease given back');
      this.busy.delete(p);
      await this.release(p);
    } finally {
      this.busy.delete(p);
    }
  }

  private async release(p: number): Promise<void> {
    if (!this.held.has(p)) return;
    this.busy.add(p);
    this.log.info({ partition: p }, 'giving a partition back');
    try {
      await this.events.releasing(p).catch((err) => this.log.error({ err, partition: p }, 'releasing a partition failed'));
      // a renewal in flight would leave our revision behind
      await this.renewals.idle();
      const lease = this.held.get(p);
      this.held.delete(p);
      await lease?.release().catch((err) => this.log.warn({ err, partition: p }, 'giving a lease back failed; it lapses'));
      this.log.info({ partition: p }, 'partition lease given back');
    } finally {
      this.busy.delete(p);
    }
  }

  /** Current owner of a partition's lease, if any (for health and tests). */
  ownerOf(p: number): Promise<string | null> {
    return leaseHolder(this.kv.leases, key(p));
  }
}

/**
 * The keys of a TTL bucket that hold a value now. Asked of the bucket's
 * stream (its subjects, then each key's last entry) with plain JetStream API
 * requests: `kv.keys()` runs an ordered consumer, which after a NATS node
 * was lost kept timing out for tens of seconds while every request worked.
 */
export async function liveKeys(kv: KV): Promise<string[]> {
  // the client's bucket object carries its stream and subject prefix (nats.js Bucket)
  const b = kv as Partial<{ jsm: JetStreamManager; stream: string; prefix: string }>;
  if (!b.jsm || !b.stream || b.prefix === undefined) {
    const out: string[] = [];
    for await (const k of await kv.keys()) out.push(k);
    return out.sort();
  }
  const prefix = `${b.prefix}.`;
  const info = await b.jsm.streams.info(b.stream, { subjects_filter: `${prefix}>` });
  const keys = Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
  const live = await Promise.all(keys.map(async (k) => ((await kv.get(k))?.operation === 'PUT' ? k : null)));
  return live.filter((k): k is string => k !== null).sort();
}

const key = (p: number) => `p${p}`;
