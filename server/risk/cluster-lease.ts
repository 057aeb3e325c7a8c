/**
 * The risk work as a cluster-wide singleton (docs/cluster.md, Risk): one key
 * `risk` in the cluster's lease bucket `<prefix>_leases` (entries lapse
 * `leaseTtlMs` after the last write), a KvLease (server/cluster/kv-lease.ts)
 * as each partition lease is: taken with `create` (refused while another
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
import { KvLease, leaseHolder, Rounds, type RenewOutcome } from '../cluster/kv-lease.ts';

export const RISK_LEASE_KEY = 'risk';

export interface RiskLeaseEvents {
  /** the lease is ours: catch up (resolves once done; the lease is renewed meanwhile) */
  acquired(): Promise<void>;
  /** the lease lapsed under us or was given back: stop the risk work at once */
  lost(): void;
}

export class RiskLease {
  private readonly lease: KvLease;
  private readonly rounds: Rounds;
  private stopped = true;

  constructor(
    id: string,
    private readonly renewMs: number,
    private readonly kv: KV,
    private readonly events: RiskLeaseEvents,
    private readonly log: Logger,
  ) {
    this.lease = new KvLease(kv, RISK_LEASE_KEY, id);
    this.rounds = new Rounds(() => this.tick(), renewMs);
  }

  /** whether this server holds the risk lease now */
  held(): boolean {
    return this.lease.held;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.tick();
    this.rounds.start();
  }

  /** Gives the lease back (another server takes it at its next round). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.rounds.stop();
    if (!this.lease.held) return;
    const giving = this.lease.release();
    this.events.lost();
    await giving.catch((err) => this.log.warn({ err }, 'giving the risk lease back failed; it lapses'));
    this.log.info('risk lease given back');
  }

  /** Renews the lease held, or tries to take it. */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.lease.held) {
      const r = await this.lease.renew();
      if (r.kind === 'transient') this.log.warn({ err: r.err }, 'risk lease renewal failed; retried');
      else this.onLost(r, 'risk lease lost (lapsed, or taken by another server); the risk work stopped here');
      return;
    }
    if (!(await this.lease.take())) return; // another server's lease still lives
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
    if (!this.lease.held || this.stopped) return;
    this.onLost(await this.lease.renew(), 'risk lease lost during the catch-up; the risk work stopped here');
  }

  private onLost(r: RenewOutcome, message: string): void {
    if (r.kind !== 'lost') return;
    this.log.error({ err: r.err }, message);
    this.events.lost();
  }

  /** The holder of the risk lease, if any (for health and tests). */
  holder(): Promise<string | null> {
    return leaseHolder(this.kv, RISK_LEASE_KEY);
  }
}
