/**
 * The outage pool and line loss in a cluster (docs/cluster.md, The pool and
 * line loss on one server): one key `center` in the cluster's lease bucket
 * `<prefix>_leases`, a KvLease (server/cluster/kv-lease.ts) as the risk lease
 * is, renewed every `renewMs`, taken by another server within the lease TTL
 * plus one round when its holder dies.
 *
 * The holder alone runs the pool's ticks (measured outages from the dark
 * alarms, which every server holds alike through the alarm stream, plan
 * reconciliation, the notices owed, findings, plan alarms) and the line-loss
 * intervals on schedule with their alarms and findings. Taking the lease it
 * reads the pool again from the shared journal, as a server does at start,
 * and catches the line-loss intervals up as at a start.
 *
 * Every change the holder commits goes to the other servers on the core NATS
 * subject `gwc.pool.entry` (at most once; each server also reads the journal
 * again every `resyncMs`), so every server's REST shows the same pool. An
 * operator's change made on a server without the lease is applied by the
 * holder: sent on `gwc.pool.write.<holder id>` with the user's name (the
 * user's station scopes were checked where the request came in), the answer
 * or the refusal relayed as it was given.
 */
import type { KV, Msg, NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import type { ClusterConfig } from '../cluster/config.ts';
import { KvLease, leaseHolder, Rounds } from '../cluster/kv-lease.ts';
import { GridwatchError, type ServerErrorCode } from '../errors.ts';
import type { PoolEntry } from './journal.ts';
import { applyWrite, PlanRejected, type PoolWrite } from './pool-actions.ts';
import type { OutagePool } from './pool.ts';

export const CENTER_LEASE_KEY = 'center';
export const POOL_ENTRY_SUBJECT = 'gwc.pool.entry';
export const POOL_WRITE_SUBJECT = 'gwc.pool.write';
/** how long a forwarded change may take on the holder (a plan import of thousands of rows) */
const WRITE_TIMEOUT_MS = 30_000;

interface LineLoss {
  setActive(fn: () => boolean): void;
  takeOver(): void;
}

type Answer = { ok: true; value: unknown } | { ok: false; code: ServerErrorCode; message: string; retryable?: boolean; issues?: PlanRejected['issues'] };

export class PoolCluster {
  private lease: KvLease | null = null;
  private kv: KV | null = null;
  private rounds: Rounds | null = null;
  private resync: Rounds | null = null;
  private readonly subs: Subscription[] = [];
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();
  private stopped = true;
  /** when the lease was last written by us (taken or renewed), epoch ms */
  private writtenAt = 0;

  constructor(
    private readonly cfg: ClusterConfig,
    private readonly id: string,
    private readonly nc: NatsConnection,
    private readonly pool: OutagePool,
    private readonly lineLoss: LineLoss,
    private readonly log: Logger,
    private readonly resyncMs = 60_000,
  ) {
    // before they start: nothing automatic runs until the lease is taken
    pool.gate(() => this.holds(), (e) => this.publish(e));
    lineLoss.setActive(() => this.holds());
    pool.forward = (w) => this.forward(w);
  }

  /**
   * Whether this server runs the pool's and line loss's automatic duties now:
   * the lease held and written within the last `leaseTtlMs - renewMs` (a
   * holder cut off from NATS stops before another server may take it).
   */
  holds(): boolean {
    return (this.lease?.held ?? false) && Date.now() - this.writtenAt < this.cfg.leaseTtlMs - this.cfg.renewMs;
  }

  /** The holder of the `center` lease, if any. */
  holder(): Promise<string | null> {
    return this.kv ? leaseHolder(this.kv, CENTER_LEASE_KEY) : Promise.resolve(null);
  }

  /** Takes part in the lease (after the pool and line loss started). */
  async start(): Promise<void> {
    this.stopped = false;
    this.kv = await this.nc.jetstream().views.kv(`${this.cfg.bucketPrefix}_leases`, { ttl: this.cfg.leaseTtlMs, history: 1, replicas: this.cfg.stream.replicas });
    this.lease = new KvLease(this.kv, CENTER_LEASE_KEY, this.id);
    this.listen(POOL_ENTRY_SUBJECT, (m) => this.onEntry(m));
    this.listen(`${POOL_WRITE_SUBJECT}.${this.id}`, (m) => this.onWrite(m));
    this.rounds = new Rounds(() => this.tick(), this.cfg.renewMs);
    await this.tick();
    this.rounds.start();
    this.resync = new Rounds(async () => {
      if (!this.holds()) await this.pool.rebuild({ unlessActive: true }).catch((err) => this.log.warn({ err }, 'outage pool not read again from its journal; tried at the next round'));
    }, this.resyncMs);
    this.resync.start();
  }

  /** Gives the lease back (first, before the pool and line loss stop). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.subs.splice(0)) s.unsubscribe();
    await this.resync?.stop();
    await this.rounds?.stop();
    if (!this.lease?.held) return;
    // what the pool committed is journaled before another server reads the journal
    await this.pool.flush();
    await this.lease.release().catch((err) => this.log.warn({ err }, 'giving the center lease back failed; it lapses'));
    this.log.info('center lease given back');
  }

  private async tick(): Promise<void> {
    if (this.stopped || !this.lease) return;
    if (this.lease.held) {
      const at = Date.now();
      const r = await this.lease.renew();
      if (r.kind === 'renewed') this.writtenAt = at;
      if (r.kind === 'transient') this.log.warn({ err: r.err }, 'center lease renewal failed; retried');
      if (r.kind === 'lost') this.log.error({ err: r.err }, 'center lease lost (lapsed, or taken by another server); the outage pool and line-loss duties stopped here');
      return;
    }
    const at = Date.now();
    if (!(await this.lease.take())) return;
    this.writtenAt = at;
    this.log.info('center lease taken: this server runs the outage pool and line-loss duties');
    // renewed meanwhile: reading a long journal may take longer than the TTL
    const renewing = setInterval(() => {
      void this.lease?.renew().then((r) => r.kind === 'renewed' && (this.writtenAt = Date.now()));
    }, this.cfg.renewMs);
    try {
      await this.pool.rebuild();
      this.lineLoss.takeOver();
    } catch (err) {
      // without the pool read again nothing may be decided here: given back for another server (or the next round)
      this.log.error({ err }, 'taking the outage pool over failed; the center lease is given back');
      await this.lease.release().catch(() => undefined);
    } finally {
      clearInterval(renewing);
    }
  }

  private listen(subject: string, fn: (m: Msg) => Promise<void> | void): void {
    const sub = this.nc.subscribe(subject);
    this.subs.push(sub);
    void (async () => {
      for await (const m of sub) await fn(m);
    })();
  }

  private publish(e: PoolEntry): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(POOL_ENTRY_SUBJECT, this.enc.encode(JSON.stringify({ from: this.id, entry: e })));
    } catch (err) {
      this.log.warn({ err, id: e.id }, 'outage pool change not sent to the other servers; they read it from the journal');
    }
  }

  private onEntry(m: Msg): void {
    try {
      const msg = JSON.parse(this.dec.decode(m.data)) as { from?: string; entry?: PoolEntry };
      // the holder decides alone; a stale message from a former holder is dropped
      if (msg.from === this.id || !msg.entry || this.holds()) return;
      this.pool.mirror(msg.entry);
    } catch (err) {
      this.log.warn({ err }, 'outage pool change from another server not applied; read from the journal at the next resync');
    }
  }

  /** An operator's change: applied here while the lease is ours, else by the holder. */
  private async forward(w: PoolWrite): Promise<unknown> {
    if (this.holds()) return applyWrite(this.pool, w);
    const holder = await this.holder().catch(() => null);
    if (!holder || holder === this.id) throw unavailable('no server runs the outage pool now (the center lease is being taken over); try again in a few seconds');
    let reply: Msg;
    try {
      reply = await this.nc.request(`${POOL_WRITE_SUBJECT}.${holder}`, this.enc.encode(JSON.stringify(w)), { timeout: WRITE_TIMEOUT_MS });
    } catch (err) {
      throw unavailable(`the server running the outage pool (${holder}) did not answer: ${String((err as Error)?.message ?? err)}; see whether the change shows before repeating it`, err);
    }
    const a = JSON.parse(this.dec.decode(reply.data)) as Answer;
    if (a.ok) return a.value;
    if (a.issues) throw new PlanRejected(a.issues, a.code as 'GW_ERR_PLAN_INVALID' | 'GW_ERR_PLAN_OVERLAP');
    throw new GridwatchError(a.code, a.message, { retryable: a.retryable ?? false });
  }

  private async onWrite(m: Msg): Promise<void> {
    let a: Answer;
    try {
      if (!this.holds()) throw unavailable('this server no longer runs the outage pool; try again in a few seconds');
      const w = JSON.parse(this.dec.decode(m.data)) as PoolWrite;
      a = { ok: true, value: await applyWrite(this.pool, w) };
    } catch (err) {
      if (err instanceof GridwatchError) a = { ok: false, code: err.code, message: err.message, retryable: err.retryable, ...(err instanceof PlanRejected ? { issues: err.issues } : {}) };
      else {
        this.log.error({ err }, 'an operator change sent by another server failed');
        a = { ok: false, code: 'GW_ERR_POOL_UNAVAILABLE', message: `the change failed on the server running the outage pool: ${String((err as Error)?.message ?? err)}`, retryable: true };
      }
    }
    m.respond(this.enc.encode(JSON.stringify(a)));
  }
}

function unavailable(message: string, cause?: unknown): GridwatchError {
  return new GridwatchError('GW_ERR_POOL_UNAVAILABLE', message, { retryable: true, ...(cause === undefined ? {} : { cause }) });
}
