/**
 * One gridwatch server as a member of a cluster on NATS (docs/cluster.md).
 *
 * The agents publish MQTT to any NATS node; the nodes' subject mapping puts
 * each agent's readings on `gw.r.<partition>.<site>.<agent>` and each site's
 * calls on `gw.c.<partition>.<site>`, and one replicated work-queue stream
 * holds both until a server has stored them. Each partition has one durable
 * pull consumer, run only by the server holding the partition's lease
 * (server/cluster/leases.ts); a message is acknowledged once the store
 * confirmed its readings (Ingest.take) and the alarm transitions made up to
 * then are in the alarm stream (alarm-sync.ts), so a server that dies leaves
 * its unacknowledged messages to the next owner and its transitions to the
 * stream.
 *
 * Taking a partition over, the new owner deletes and recreates its consumer:
 * what the previous owner had been sent but not acknowledged comes again at
 * once instead of after the ack wait. What the previous owner stored but had
 * not yet acknowledged is stored again (a stored point is keyed by device and
 * timestamp) and the rules skip a reading not newer than the device's last.
 *
 * Live values handled here also go to the other servers' dashboards
 * (live-share.ts).
 */
import { hostname } from 'node:os';
import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  connect,
  nanos,
  type ConnectionOptions,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
} from 'nats';
import type { Logger } from 'pino';
import type { Ingest } from '../ingest.ts';
import type { StoredReading } from '../store/types.ts';
import type { Topology } from '../../contract/index.ts';
import { agentPlaces, transformerSource } from '../rules/outage.ts';
import type { ClusterConfig } from './config.ts';
import { PartitionLeases } from './leases.ts';
import { partitionOf } from './partition.ts';
import { AlarmSync, type ClusterAlarms } from './alarm-sync.ts';
import { LiveShare } from './live-share.ts';
import { untilAnswered } from './setup-retry.ts';

/** MQTT topic of a message taken from the stream, or null for a subject the mapping does not make */
export function topicOfSubject(subject: string): string | null {
  const t = subject.split('.');
  if (t[0] !== 'gw') return null;
  if (t[1] === 'r' && t.length === 5) return `gridwatch/v1/${t[3]}/${t[4]}/readings`;
  if (t[1] === 'c' && t.length === 4) return `gridwatch/v1/${t[3]}/call`;
  return null;
}

export { LIVE_SUBJECT } from './live-share.ts';

/** longest a partition given back waits for what it took to be stored, ms */
const RELEASE_WAIT_MS = 10_000;

interface Running {
  messages: ConsumerMessages;
  done: Promise<void>;
}

/** messages of one partition taken and not yet acknowledged (stored) */
interface Unacked {
  n: number;
  idle: Array<() => void>;
}

export class ClusterNode {
  readonly id: string;
  private nc: NatsConnection | null = null;
  private jsm: JetStreamManager | null = null;
  private js: JetStreamClient | null = null;
  private leases: PartitionLeases | null = null;
  private readonly running = new Map<number, Running>();
  private readonly unacked = new Map<number, Unacked>();
  private readonly enc = new TextEncoder();
  /** device, and transformer outage source `site/transformer`, → its room's agent (topology) */
  private readonly agentOfDevice = new Map<string, string>();
  private readonly agentIds = new Set<string>();
  private readonly siteIds = new Set<string>();
  /** the live values handled here, to the other servers' dashboards, and theirs to this one's */
  private readonly liveShare: LiveShare;
  /** one alarm set across the servers (alarm-sync.ts), with an alarm service */
  private readonly sync: AlarmSync | null;

  constructor(
    private readonly cfg: ClusterConfig,
    private readonly deps: {
      ingest: Ingest;
      log: Logger;
      topology: Topology;
      /** the alarm service: evaluates only what this server owns */
      alarms?: ClusterAlarms & { setOwnership(owns: (source: string) => boolean, partitioned?: (source: string) => boolean): void };
      /** the live values of the other servers go to this server's dashboards */
      live?: { publish(readings: readonly StoredReading[]): void };
    },
  ) {
    this.id = cfg.serverId ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}-${process.pid}`;
    for (const [agent, place] of agentPlaces(deps.topology)) {
      this.agentIds.add(agent);
      for (const d of place.devices) this.agentOfDevice.set(d, agent);
    }
    for (const s of deps.topology.sites) {
      this.siteIds.add(s.id);
      // a transformer's outage alarm (source `site/transformer`) belongs to its room agent's partition: the owner holds its meters' states
      for (const room of s.rooms) if (room.agent) for (const t of room.transformers) this.agentOfDevice.set(transformerSource(s.id, t.id), room.agent);
    }
    this.liveShare = new LiveShare(this.id, { log: deps.log, ...(deps.live ? { live: deps.live } : {}), members: () => this.members() });
    this.sync = deps.alarms
      ? new AlarmSync(
          this.id,
          {
            bucketPrefix: cfg.bucketPrefix,
            replicas: cfg.stream.replicas,
            saveMs: cfg.ruleStateSaveMs,
            stream: { name: `${cfg.bucketPrefix}_alarms`, maxAgeS: cfg.alarmStream.maxAgeS, maxBytes: cfg.alarmStream.maxBytes },
          },
          deps.alarms,
          (p) => (source) => this.partitionOfSource(source) === p,
          (source) => this.partitionOfSource(source),
          () => this.owned(),
          deps.log,
        )
      : null;
  }

  get connection(): NatsConnection {
    if (!this.nc) throw new Error('cluster node not started');
    return this.nc;
  }

  /** partitions this server consumes now */
  owned(): number[] {
    return this.leases?.owned() ?? [];
  }

  /** live servers, by id, as of the last lease round */
  members(): string[] {
    return this.leases?.members() ?? [];
  }

  partitionOfAgent(agent: string): number {
    return partitionOf(agent, this.cfg.partitions);
  }

  /** whether this server handles the agent's readings now */
  ownsAgent(agent: string): boolean {
    return this.leases?.owns(partitionOf(agent, this.cfg.partitions)) ?? false;
  }

  /** The server's NATS connection options (the live share opens its own connection with them). */
  private natsOptions(): ConnectionOptions {
    const { nats } = this.cfg;
    return {
      servers: nats.servers,
      name: `gridwatch-${this.id}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...(nats.user !== undefined ? { user: nats.user, pass: nats.pass ?? '' } : {}),
      ...(nats.token !== undefined ? { token: nats.token } : {}),
    };
  }

  /**
   * Connects to NATS, makes or updates the stream, and takes the alarm
   * sequence slot: before the alarm service starts (its first transition
   * needs the slot). `start` follows.
   */
  async connect(): Promise<void> {
    if (this.nc) return;
    const { nats, stream } = this.cfg;
    this.nc = await connect(this.natsOptions());
    this.nc.closed().then((err) => err && this.deps.log.error({ err }, 'NATS connection closed'));
    const nc = this.nc;
    this.jsm = await untilAnswered('JetStream account', () => nc.jetstreamManager(), this.deps.log);
    this.js = this.nc.jetstream();
    const want = {
      name: stream.name,
      // one subject filter covering both: a consumer's filter `gw.*.<p>.>` must be a subset of one of the stream's subjects (2.9)
      subjects: ['gw.>'],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      num_replicas: stream.replicas,
      max_age: nanos(stream.maxAgeS * 1000),
    };
    const jsm = this.jsm;
    await untilAnswered('readings stream', async () => {
      const exists = await jsm.streams.info(stream.name).then(
        () => true,
        (err) => {
          // "stream not found" is an answer; no answer at all is asked again
          if (/not found/i.test(String((err as Error)?.message ?? err))) return false;
          throw err;
        },
      );
      if (exists) await jsm.streams.update(stream.name, want);
      else await jsm.streams.add(want).catch(async (err) => {
        // another server created it a moment ago
        if (!(await jsm.streams.info(stream.name).then(() => true, () => false))) throw err;
      });
    }, this.deps.log);
    await untilAnswered('alarm stream, rule-state bucket and sequence slot', () => this.sync?.connect(this.nc!, this.js!, jsm) ?? Promise.resolve(), this.deps.log);
  }

  /** Joins the members and takes this server's share of the partitions (connecting first if `connect` was not called). */
  async start(): Promise<void> {
    await this.connect();
    const { nats, stream } = this.cfg;
    const kvOpts = { ttl: this.cfg.leaseTtlMs, history: 1, replicas: stream.replicas };
    const members: KV = await untilAnswered('members bucket', () => this.js!.views.kv(`${this.cfg.bucketPrefix}_members`, kvOpts), this.deps.log);
    const leaseKv: KV = await untilAnswered('leases bucket', () => this.js!.views.kv(`${this.cfg.bucketPrefix}_leases`, kvOpts), this.deps.log);
    this.leases = new PartitionLeases(
      this.id,
      this.cfg.partitions,
      this.cfg.renewMs,
      { members, leases: leaseKv },
      {
        acquired: (p) => this.consume(p),
        releasing: (p) => this.release(p),
        lost: (p) => {
          this.sync?.forget(p);
          void this.halt(p);
        },
      },
      this.deps.log,
    );
    this.updateAgentFilter();
    await this.liveShare.start(this.natsOptions());
    await this.sync?.start(this.cfg.partitions);
    this.deps.log.info({ id: this.id, servers: nats.servers, partitions: this.cfg.partitions, stream: stream.name }, 'cluster member starting');
    await this.leases.start();
  }

  /** Gives every partition back once what it took is stored, then leaves the cluster. */
  async stop(): Promise<void> {
    await this.leases?.stop().catch((err) => this.deps.log.warn({ err }, 'giving partitions back failed; their leases lapse'));
    for (const p of [...this.running.keys()]) await this.halt(p);
    await this.sync?.stop();
    await this.liveShare.stop();
    this.leases = null;
    const nc = this.nc;
    this.nc = null;
    if (nc) await nc.drain().catch(() => nc.close());
  }

  private updateAgentFilter(): void {
    const owned = new Set(this.running.keys());
    const n = this.cfg.partitions;
    this.deps.ingest.setAgentFilter((agent) => owned.has(partitionOf(agent, n)));
    this.deps.alarms?.setOwnership(
      (source) => {
        const p = this.partitionOfSource(source);
        return p !== null && owned.has(p);
      },
      (source) => this.partitionOfSource(source) !== null,
    );
  }

  /** The partition an alarm source belongs to: its agent's (a device, an agent, `<rule>:<agent>`), a site's for its calls; null for others. */
  private partitionOfSource(source: string): number | null {
    const agent = this.agentOfSource(source);
    if (agent !== null) return partitionOf(agent, this.cfg.partitions);
    if (this.siteIds.has(source)) return partitionOf(source, this.cfg.partitions);
    return null;
  }

  /** The agent whose partition decides about an alarm source: a device's room agent, an agent, `<rule>:<agent>`. */
  private agentOfSource(source: string): string | null {
    const viaDevice = this.agentOfDevice.get(source);
    if (viaDevice !== undefined) return viaDevice;
    if (this.agentIds.has(source)) return source;
    const i = source.lastIndexOf(':');
    if (i >= 0 && this.agentIds.has(source.slice(i + 1))) return source.slice(i + 1);
    return null;
  }

  /** Sends the live values of one message handled here to the other servers (live-share.ts). */
  fanOutLive(readings: readonly StoredReading[]): void {
    this.liveShare.publish(readings);
  }

  private async consume(p: number): Promise<void> {
    const jsm = this.jsm!;
    const js = this.js!;
    const stream = this.cfg.stream.name;
    const name = `gw-p${p}`;
    // the partition's alarms and rule state as its previous owner left them, before its readings flow
    await this.sync?.takeOver(p);
    // a fresh consumer: what the previous owner was sent and did not acknowledge comes again now
    await jsm.consumers.delete(stream, name).catch(() => undefined);
    const created = await jsm.consumers.add(stream, {
      durable_name: name,
      filter_subject: `gw.*.${p}.>`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.cfg.ackWaitMs),
      max_ack_pending: this.cfg.maxAckPending,
      max_deliver: -1,
    });
    const consumer = await js.consumers.get(stream, name);
    const messages = await consumer.consume({ max_messages: Math.min(256, this.cfg.maxAckPending) });
    const ingest = this.deps.ingest;
    const log = this.deps.log;
    let u = this.unacked.get(p);
    if (!u) this.unacked.set(p, (u = { n: 0, idle: [] }));
    const unacked = u;
    // what was in the stream when the consumer was made may have been handled before (its ack lost with a node, or the
    // previous owner stored it): its envelope is older than the watermark, so it settles seqs but says nothing of a restart
    let backlog = created.num_pending + created.num_ack_pending;
    const sync = this.sync;
    const acked = () => {
      if (--unacked.n === 0) for (const w of unacked.idle.splice(0)) w();
    };
    // acknowledged once stored and once the transitions its rules made are in the alarm stream: the rules ran while the
    // message was taken, so the largest seq handed to the stream when the store confirms covers them (a later one too)
    const stored = (m: { ack(): void }) => () => {
      if (!sync) return (m.ack(), acked());
      void sync.whenDurable(sync.lastOut).then(() => (m.ack(), acked()));
    };
    const done = (async () => {
      for await (const m of messages) {
        const topic = topicOfSubject(m.subject);
        if (!topic) {
          log.warn({ subject: m.subject.slice(0, 200) }, 'message on a subject the cluster mapping does not make; dropped');
          m.term();
          continue;
        }
        unacked.n++;
        const old = m.redelivered || backlog > 0;
        if (backlog > 0 && !m.redelivered) backlog--;
        ingest.take(topic, Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), stored(m), old);
      }
    })().catch((err) => log.error({ err, partition: p }, 'partition consumer failed'));
    this.running.set(p, { messages, done });
    this.updateAgentFilter();
  }

  /** Stops consuming a partition (what was taken still goes on to the store and its ack). */
  private async halt(p: number): Promise<void> {
    const r = this.running.get(p);
    if (!r) return;
    this.running.delete(p);
    this.updateAgentFilter();
    r.messages.stop();
    await r.done;
  }

  /** Stops consuming, then waits until what was taken is stored and acknowledged. */
  private async release(p: number): Promise<void> {
    await this.halt(p);
    const u = this.unacked.get(p);
    if (!u || u.n === 0) return this.saveState(p);
    // what this partition took is stored and acknowledged before its lease goes (the others' flow does not hold it)
    let timer: NodeJS.Timeout | undefined;
    const idle = await Promise.race([
      new Promise<boolean>((resolve) => u.idle.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), RELEASE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (!idle) this.deps.log.warn({ partition: p, unacked: u.n }, 'partition given back with readings not yet stored; the next owner gets them again');
    await this.saveState(p);
  }

  private async saveState(p: number): Promise<void> {
    await this.sync?.save(p).catch((err) => this.deps.log.warn({ err, partition: p }, 'saving the rule state of a partition given back failed; the next owner resumes an older one'));
    this.sync?.forget(p);
  }

  /** Publishes on a core NATS subject (fan-out between servers); dropped while disconnected. */
  publish(subject: string, data: unknown): void {
    if (!this.nc || this.nc.isClosed()) return;
    this.nc.publish(subject, this.enc.encode(JSON.stringify(data)));
  }
}
