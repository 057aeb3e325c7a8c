/**
 * The risk work in a cluster (docs/cluster.md, Risk): the risk items on a
 * JetStream stream every server reads (cluster-journal.ts), and the risk
 * lease (cluster-lease.ts) deciding which one server makes the scheduled
 * runs, opens, escalates and notifies items and sends the SMS summaries.
 *
 * A computation made on demand on a server without the lease is stored in
 * the shared history there and its days are handed to the holder on the core
 * NATS subject `gwc.risk.computed` (at most once; the holder's next run
 * decides on the stored days anyway), so its items open at once.
 */
import type { Logger } from 'pino';
import type { NatsConnection, Subscription } from 'nats';
import type { StationRiskDay } from '../../contract/risk.ts';
import type { ClusterConfig } from '../cluster/config.ts';
import { StreamItemJournal } from './cluster-journal.ts';
import { RiskLease } from './cluster-lease.ts';

export const RISK_COMPUTED_SUBJECT = 'gwc.risk.computed';

interface Runtime {
  setActive(fn: () => boolean): void;
  catchUpNow(): Promise<void>;
  onComputed(listener: (days: StationRiskDay[]) => void | Promise<void>): () => void;
}
interface Items {
  setActive(fn: () => boolean): void;
  activate(): Promise<void>;
  onComputed(days: readonly StationRiskDay[]): Promise<unknown>;
}

export class RiskCluster {
  private lease: RiskLease | null = null;
  private sub: Subscription | null = null;
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();

  private constructor(
    private readonly cfg: ClusterConfig,
    private readonly id: string,
    private readonly nc: NatsConnection,
    readonly journal: StreamItemJournal,
    private readonly log: Logger,
  ) {}

  /** The shared items journal, before the risk items start (the NATS connection is up). */
  static async create(cfg: ClusterConfig, node: { id: string; connection: NatsConnection }, log: Logger): Promise<RiskCluster> {
    const nc = node.connection;
    const journal = new StreamItemJournal(nc.jetstream(), await nc.jetstreamManager(), `${cfg.bucketPrefix}_riskitems`, cfg.stream.replicas);
    return new RiskCluster(cfg, node.id, nc, journal, log);
  }

  /** whether this server runs the risk work now */
  holds(): boolean {
    return this.lease?.held() ?? false;
  }

  /** The holder of the risk lease, if any. */
  holder(): Promise<string | null> {
    return this.lease?.holder() ?? Promise.resolve(null);
  }

  /** Gates the runtime or the items on the lease: before they start (nothing runs until the lease is taken). */
  gate(part: { setActive(fn: () => boolean): void }): void {
    part.setActive(() => this.holds());
  }

  /** Takes part in the lease (after the gated runtime and items started). */
  async start(risk: Runtime | null, items: Items): Promise<void> {
    const js = this.nc.jetstream();
    const kv = await js.views.kv(`${this.cfg.bucketPrefix}_leases`, { ttl: this.cfg.leaseTtlMs, history: 1, replicas: this.cfg.stream.replicas });
    this.lease = new RiskLease(
      this.id,
      this.cfg.renewMs,
      kv,
      {
        acquired: async () => {
          await items.activate();
          await risk?.catchUpNow();
        },
        lost: () => undefined,
      },
      this.log,
    );
    if (risk) {
      // days computed on demand here while another server holds the lease: its items open there
      risk.onComputed((days) => {
        if (!this.holds() && days.length && !this.nc.isClosed()) this.nc.publish(RISK_COMPUTED_SUBJECT, this.enc.encode(JSON.stringify({ from: this.id, days })));
      });
      this.sub = this.nc.subscribe(RISK_COMPUTED_SUBJECT);
      const sub = this.sub;
      void (async () => {
        for await (const m of sub) {
          try {
            const msg = JSON.parse(this.dec.decode(m.data)) as { from?: string; days?: StationRiskDay[] };
            if (msg.from === this.id || !Array.isArray(msg.days) || !this.holds()) continue;
            await items.onComputed(msg.days);
          } catch (err) {
            this.log.warn({ err }, 'risk days from another server not applied; the next run decides on them');
          }
        }
      })();
    }
    await this.lease.start();
  }

  /** Gives the lease back (first, before the risk parts stop). */
  async stop(): Promise<void> {
    this.sub?.unsubscribe();
    this.sub = null;
    await this.lease?.stop();
    this.lease = null;
  }
}
