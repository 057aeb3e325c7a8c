/**
 * One lease on one key of a JetStream key-value bucket whose entries lapse
 * after the bucket's TTL without a write: the cycle the partition leases
 * (leases.ts) and the risk singleton (server/risk/cluster-lease.ts) share.
 *
 * - take: `create` (refused while another holder's entry lives);
 * - renew: `update` at the revision written last (refused once the entry
 *   lapsed and another holder created it: the lease is lost);
 * - release: `delete` at that revision (a failure leaves it to lapse).
 *
 * The holder's timers, what it starts and stops, and what it logs stay with
 * the caller; this holds the revision and says how a renewal went.
 */
import type { KV } from 'nats';

const enc = new TextEncoder();
const dec = new TextDecoder();

export type RenewOutcome =
  | { kind: 'renewed' }
  /** not held, or released or lost meanwhile: nothing to do */
  | { kind: 'not-held' }
  /** refused for want of a JetStream answer (a node or leader lost a moment): still held, tried again next round */
  | { kind: 'transient'; err: unknown }
  /** refused at our revision: the entry lapsed (another holder may have it); no longer held */
  | { kind: 'lost'; err: unknown };

export class KvLease {
  private rev: number | null = null;

  constructor(
    private readonly kv: KV,
    readonly key: string,
    /** what the entry holds: the holder's id */
    private readonly holder: string,
  ) {}

  get held(): boolean {
    return this.rev !== null;
  }

  /** Creates the entry; false while another holder's entry lives (or the bucket did not answer). Held already: true. */
  async take(): Promise<boolean> {
    if (this.rev !== null) return true;
    try {
      this.rev = await this.kv.create(this.key, enc.encode(this.holder));
      return true;
    } catch {
      return false;
    }
  }

  /** Writes the entry again at the revision written last. */
  async renew(): Promise<RenewOutcome> {
    const rev = this.rev;
    if (rev === null) return { kind: 'not-held' };
    try {
      const next = await this.kv.update(this.key, enc.encode(this.holder), rev);
      if (this.rev === rev) this.rev = next;
      return this.rev === next ? { kind: 'renewed' } : { kind: 'not-held' };
    } catch (err) {
      if (this.rev !== rev) return { kind: 'not-held' }; // released meanwhile
      if (isTransient(err)) return { kind: 'transient', err };
      this.rev = null;
      return { kind: 'lost', err };
    }
  }

  /**
   * No longer held (at once), and the entry deleted at our revision; rejects
   * when the delete fails (the entry then lapses). Not held: nothing.
   */
  async release(): Promise<void> {
    const rev = this.rev;
    if (rev === null) return;
    this.rev = null;
    await this.kv.delete(this.key, { previousSeq: rev });
  }
}

/** The holder in a lease key now, if any (for health and tests). */
export async function leaseHolder(kv: KV, key: string): Promise<string | null> {
  const e = await kv.get(key);
  return e && e.operation === 'PUT' ? dec.decode(e.value) : null;
}

/** a write refused for want of a JetStream answer (a node or leader lost a moment), not for a wrong revision */
export function isTransient(err: unknown): boolean {
  return !/wrong last sequence/i.test(String((err as Error)?.message ?? err));
}

/**
 * `round` every `ms`, never two at once: a tick while a round runs is
 * skipped. The lease holders' renewal and rebalance timers.
 */
export class Rounds {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly round: () => Promise<void>,
    private readonly ms: number,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      this.running ??= this.round().finally(() => (this.running = null));
    }, this.ms);
  }

  /** No more rounds; resolves once the one running (if any) is done. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Resolves once the round running now (if any) is done. */
  async idle(): Promise<void> {
    await this.running;
  }
}
