/**
 * The risk work as a cluster-wide singleton (docs/cluster.md, Risk): one key
 * `risk` in the cluster's lease bucket `<prefix>_leases` (entries lapse
 * `leaseTtlMs` after the last write), handled like a partition lease
 * (server/cluster/leases.ts): taken with `create` (refused while another
 * server's lease lives), renewed every `renewMs` with `update` at the revision
 * written last (refused once it lapsed and another server took it: the holder
 * stops at once), given back with `delete` at that revision. Every server
 * tries to take it each round, so when the holder dies another has it within
 * the lease TTL plus one round.
 *
 * The holder alone runs the daily and provisional runs with the catch-up of a
 * missed daily run, opens and escalates risk items, sends their notices and
 * the daily SMS summaries.
 */
import type { KV } from 'nats';
import type { Logger } from 'pino';

export const RISK_LEASE_KEY = 'risk';

export interface RiskLeaseEvents {
  /** the lease is ours: catch up (resolves once done; the lease is renewed meanwhile) */
  acquired(): Promise<void>;
  /** the lease lapsed under us or was given back: stop the risk work at once */
  lost(): void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export class RiskLease {
  private rev: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly id: string,
    private readonly renewMs: number,
    private readonly kv: KV,
    private readonly events: RiskLeaseEvents,
    private readonly log: Logger,
  ) {}

  /** whether this server holds the risk lease now */
  held(): boolean {
    return this.rev !== null;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.tick();
    this.timer = setInterval(() => {
      this.round ??= this.tick().finally(() => (this.round = null));
    }, this.renewMs);
  }

  /** Gives the lease back (another server takes it at its next round). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.round;
    const rev = this.rev;
    if (rev === null) return;
    this.rev = null;
    this.events.lost();
    await this.kv.delete(RISK_LEASE_KEY, { previousSeq: rev }).catch((err) => this.log.warn({ err }, 'giving the risk lease back failed; it lapses'));
    this.log.info('risk lease given back');
  }

  /** Renews the lease held, or tries to take it. */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.rev !== null) {
      const rev = this.rev;
      try {
        const next = await this.kv.update(RISK_LEASE_KEY, enc.encode(this.id), rev);
        if (this.rev === rev) this.rev = next;
      } catch (err) {
        if (isTransient(err)) return this.log.warn({ err }, 'risk lease renewal failed; retried');
        this.rev = null;
        this.log.error({ err }, 'risk lease lost (lapsed, or taken by another server); the risk work stopped here');
        this.events.lost();
      }
      return;
    }
    let rev: number;
    try {
      rev = await this.kv.create(RISK_LEASE_KEY, enc.encode(this.id));
    } catch {
      return; // another server's lease still lives
    }
    this.rev = rev;
    this.log.info('risk lease taken: this server runs the risk work');
    // renewed on its own while the catch-up runs (a catch-up run may take longer than the TTL)
    const renewing = setInterval(() => void this.renewDuringCatchUp(), this.renewMs);
    try {
      await this.events.acquired();
    } catch (err) {
      this.log.error({ err }, 'taking the risk work over failed; retried at the next run');
    } finally {
      clearInterval(renewing);
    }
  }

  private async renewDuringCatchUp(): Promise<void> {
    const rev = this.rev;
    if (rev === null || this.stopped) return;
    try {
      const next = await this.kv.update(RISK_LEASE_KEY, enc.encode(this.id), rev);
      if (this.rev === rev) this.rev = next;
    } catch (err) {
      if (isTransient(err)) return;
      if (this.rev !== rev) return;
      this.rev = null;
      this.log.error({ err }, 'risk lease lost during the catch-up; the risk work stopped here');
      this.events.lost();
    }
  }

  /** The holder of the risk lease, if any (for health and tests). */
  async holder(): Promise<string | null> {
    const e = await this.kv.get(RISK_LEASE_KEY);
    return e && e.operation === 'PUT' ? dec.decode(e.value) : null;
  }
}

/** a renewal refused for want of a JetStream answer, not for a wrong revision */
function isTransient(err: unknown): boolean {
  return !/wrong last sequence/i.test(String((err as Error)?.message ?? err));
}
