/**
 * MQTT ingest: subscribe, take what may be taken (server/ingest-accept.ts:
 * the contract, the binding to the sending agent, bounds, tags), push live,
 * batch into the store (server/ingest-queue.ts, with its backpressure: the
 * PUBACK of a message is withheld while more than `maxPending` readings wait
 * for the store), and publish each agent's durable watermark only after the
 * store confirmed the write (server/ingest-watermarks.ts).
 *
 * Over 400 lines as one file: cluster mode (server/cluster/) feeds JetStream
 * messages through `take` into the same private message handler, write queue
 * and watermarks as MQTT, and filters presence to the partitions it owns.
 */
import { hostname } from 'node:os';
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt';
import type { Logger } from 'pino';
import {
  AGENT_STATE_FILTER,
  TOPIC_ROOT,
  parseCallTopic,
  SERVER_STATE_TOPIC,
  parseReadingsTopic,
  watermarkTopic,
  type DevicePlace,
  type Topology,
} from '../contract/index.ts';
import type { TelemetryStore, StoredReading } from './store/types.ts';
import type { LiveHub } from './live-hub.ts';
import type { Metrics } from './metrics.ts';
import type { AuditLog } from './audit.ts';
import { Watermarks } from './ingest-watermarks.ts';
import { WriteQueue, type Pending } from './ingest-queue.ts';
import { Admission, type AdmissionOptions } from './ingest-admission.ts';
import { Acceptance } from './ingest-accept.ts';
import { RejectLog } from './reject-log.ts';

export interface IngestOptions extends Partial<AdmissionOptions> {
  url: string;
  username?: string;
  password?: string;
  clientId?: string;
  /** TLS to the broker (mqtts://): PEM contents and whether the broker's certificate must verify */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
  sharedGroup?: string;
  /** sites to serve; absent or empty → all */
  sites?: readonly string[];
  batchSize: number;
  flushIntervalMs: number;
  maxPending: number;
  /** store writes in flight at once */
  writeConcurrency: number;
  /** refused input is logged once per reason and interval, ms */
  rejectLogIntervalMs?: number;
  /**
   * cluster mode (server/cluster/): readings and calls come from the NATS
   * cluster's JetStream consumers through `take`, not from MQTT; MQTT (a
   * node's gateway) carries presence and watermarks only, and the server
   * state has no last will (one server of many stopping is not "offline")
   */
  cluster?: boolean;
  /** brokers tried in turn on reconnection (mqtt.js `servers`): the NATS nodes' MQTT gateways in cluster mode */
  servers?: { host: string; port: number; protocol?: 'mqtt' | 'mqtts' }[];
}

/** Admission defaults (server/config.ts has the same): for an Ingest built without a full config. */
const ADMISSION_DEFAULTS: AdmissionOptions = {
  unknownDevices: 'reject',
  maxUnknownDevices: 10_000,
  maxUnknownAgents: 1000,
  maxFutureMs: 6 * 3600_000,
  maxPastMs: 400 * 86_400_000,
};

/** How long stop() waits for the broker (unsubscribe, offline state, disconnect) before it closes the socket: a broker going down with us must not hold the stop. */
const BROKER_STOP_MS = 2000;
/** a refused subscription is asked again after this, ms */
const SUBSCRIBE_RETRY_MS = 1000;
/** a subscription refused again and again is logged every this many attempts (a minute) */
const SUBSCRIBE_LOG_EVERY = 60;

export class Ingest {
  private client: MqttClient | null = null;
  private stopped = true;
  /** connections made so far: a subscription retry belongs to the connection it was made on */
  private connects = 0;
  /** accepted messages until stored (server/ingest-queue.ts) */
  private readonly writes: WriteQueue;
  /** each agent's watermark, published once the store confirmed what it covers */
  private readonly watermarks: Watermarks;
  /** presence of the topology's agents and of a bounded number of others (server/ingest-admission.ts) */
  private readonly agentStates = new Map<string, string>();
  private readonly accept: Acceptance;
  private readonly admissionOptions: AdmissionOptions;
  private readonly rejectLog: RejectLog;
  /** every topic filter this server subscribes to */
  private readonly filters: string[];
  private readonly readingsListeners: Array<(readings: readonly StoredReading[], agent: string) => void> = [];
  /** messages whose rules ran and whose encoding and live push wait for `afterRules` */
  private later: { item: Pending; readings: StoredReading[] }[] = [];
  private laterImmediate: NodeJS.Immediate | null = null;
  private readonly callListeners: Array<(site: string, payload: Buffer) => void> = [];
  private readonly agentStateListeners: Array<(agent: string, state: string) => void> = [];
  private readonly connectionListeners: Array<(connected: boolean) => void> = [];
  /** whether the last connection event told the listeners `true` */
  private toldConnected = false;
  /** cluster mode: the agents whose presence goes to the listeners (those of the partitions this server owns) */
  private agentFilter: ((agent: string) => boolean) | null = null;
  /** cluster mode: the JetStream ack of the message `take` is handling */
  private taking: (() => void) | null = null;
  /** cluster mode: the message `take` is handling was delivered before (its envelope is stale) */
  private takingRedelivered = false;

  constructor(
    private readonly opts: IngestOptions,
    private readonly deps: {
      store: TelemetryStore;
      /** where accepted readings go live (the hub; in cluster mode also the other servers) */
      live: Pick<LiveHub, 'publish'>;
      metrics: Metrics;
      log: Logger;
      devices: ReadonlyMap<string, DevicePlace>;
      /** binds agents to rooms; absent or without sites → bare start (server/ingest-admission.ts) */
      topology?: Topology;
      /** binding violations of the topology's agents are recorded as `reading_rejected` */
      audit?: AuditLog;
      now?: () => number;
    },
  ) {
    const admission: AdmissionOptions = { ...ADMISSION_DEFAULTS };
    for (const k of Object.keys(ADMISSION_DEFAULTS) as (keyof AdmissionOptions)[]) if (opts[k] !== undefined) (admission as unknown as Record<string, unknown>)[k] = opts[k];
    this.rejectLog = new RejectLog(deps.log, opts.rejectLogIntervalMs ?? 10_000);
    this.watermarks = new Watermarks(
      this.rejectLog,
      // cluster mode: QoS 0 — the NATS gateway hands a QoS 1 message to a QoS 1 subscriber through a JetStream consumer of
      // the subscriber's session, and after a NATS node was lost some of those delivered nothing; QoS 0 takes the core NATS
      // path. Each watermark carries the whole mark: one lost is made good by the next (the agents' readings keep flowing)
      (msg) => this.client?.publish(watermarkTopic(msg.agent), JSON.stringify(msg), { qos: opts.cluster ? 0 : 1, retain: true }),
      () => this.now(),
    );
    const settled = opts.cluster
      ? (items: Pending[]) => {
          this.watermarks.settle(items);
          for (const i of items) i.stored?.();
        }
      : (items: Pending[]) => this.watermarks.settle(items);
    this.writes = new WriteQueue(opts, { store: deps.store, metrics: deps.metrics, log: deps.log, now: () => this.now(), settled });
    this.admissionOptions = admission;
    this.accept = new Acceptance(new Admission(admission, deps.topology ?? { sites: [] }, deps.devices), {
      metrics: deps.metrics,
      log: deps.log,
      rejectLog: this.rejectLog,
      devices: deps.devices,
      ...(deps.audit ? { audit: deps.audit } : {}),
    });
    const share = (f: string) => (opts.sharedGroup ? `$share/${opts.sharedGroup}/${f}` : f);
    // a server may serve some sites only (partitioning, and test isolation on a shared broker)
    const sites = opts.sites?.length ? opts.sites : ['+'];
    this.filters = opts.cluster
      ? [AGENT_STATE_FILTER]
      : [...sites.map((s) => share(`${TOPIC_ROOT}/${s}/+/readings`)), ...sites.map((s) => share(`${TOPIC_ROOT}/${s}/call`)), AGENT_STATE_FILTER];
  }

  /**
   * Cluster mode: one readings or call message taken from JetStream, under
   * its MQTT topic. `stored` (the JetStream ack) is called once the store
   * confirmed its readings — at once for a message with nothing to store.
   */
  take(topic: string, payload: Buffer, stored: () => void, redelivered = false): void {
    this.taking = stored;
    this.takingRedelivered = redelivered;
    try {
      this.onMessage(topic, payload);
    } catch (err) {
      this.rejectLog.error('handler_failed', 'ingest handler failed', () => ({ err, topic: topic.slice(0, 200) }));
    }
    this.takingRedelivered = false;
    if (this.taking) {
      this.taking = null;
      stored();
    }
  }

  /**
   * Cluster mode: only the presence of agents `owns` accepts goes to the
   * listeners; presence already known of agents it now accepts and did not
   * before is told at once (a partition taken over).
   */
  setAgentFilter(owns: (agent: string) => boolean): void {
    const before = this.agentFilter;
    this.agentFilter = owns;
    for (const [agent, state] of this.agentStates) if (owns(agent) && !(before?.(agent) ?? true)) this.emit(this.agentStateListeners, agent, state);
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /**
   * Accepted readings of one message, before they are stored (rules run on the
   * live stream, so alarm latency does not wait for the store). Late readings
   * are included with `late: true`. A listener must not throw and must not
   * keep the array.
   */
  onReadings(fn: (readings: readonly StoredReading[], agent: string) => void): void {
    this.readingsListeners.push(fn);
  }

  /** A one-key call from a site (`gridwatch/v1/{site}/call`); the payload is whatever the site sent. */
  onCall(fn: (site: string, payload: Buffer) => void): void {
    this.callListeners.push(fn);
  }

  /** Agent presence changes (`online` / `offline`, retained, offline by last will). */
  onAgentState(fn: (agent: string, state: string) => void): void {
    this.agentStateListeners.push(fn);
  }

  /** The server's own broker connection: `true` on every (re)connection, `false` once when it is lost. */
  onConnection(fn: (connected: boolean) => void): void {
    this.connectionListeners.push(fn);
  }

  private connection(connected: boolean): void {
    if (connected === this.toldConnected) return;
    this.toldConnected = connected;
    this.emit(this.connectionListeners, connected);
  }

  private emit<A extends unknown[]>(listeners: Array<(...args: A) => void>, ...args: A): void {
    for (const fn of listeners) {
      try {
        fn(...args);
      } catch (err) {
        // a bug, but one that may repeat for every message: logged rate-limited
        this.rejectLog.error('listener_failed', 'ingest listener failed', () => ({ err }));
      }
    }
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get queueDepth(): number {
    return this.writes.held;
  }

  /** How long the oldest reading not yet stored has been waiting, ms (0 when none waits). */
  get storeLagMs(): number {
    return this.writes.storeLagMs(this.now());
  }

  /** epoch ms of the last store write confirmed */
  get lastStoredAt(): number | null {
    return this.writes.lastStoredAt;
  }

  /** false while store writes fail (they are retried) */
  get storeHealthy(): boolean {
    return this.writes.storeHealthy;
  }

  watermark(agent: string): number | undefined {
    return this.watermarks.get(agent);
  }

  /**
   * The topology object and device map this ingest was given were updated in
   * place by a reload (server/topology-file.ts applyLayout): agent bindings
   * are derived again; readings are placed from the map as they arrive.
   */
  topologyChanged(): void {
    this.accept.admission = new Admission(this.admissionOptions, this.deps.topology ?? { sites: [] }, this.deps.devices);
  }

  agents(): Record<string, { state: string | null; watermark: number | null }> {
    const out: Record<string, { state: string | null; watermark: number | null }> = {};
    for (const a of new Set([...this.watermarks.agents(), ...this.agentStates.keys()]))
      out[a] = { state: this.agentStates.get(a) ?? null, watermark: this.watermarks.get(a) ?? null };
    return out;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.writes.start();
    const o: IClientOptions = {
      // A persistent session ([MQTT-3.1.2-4]): QoS 1 messages the broker could not
      // deliver while we were away or holding acks are kept and delivered on reconnect.
      clientId: this.opts.clientId ?? `gridwatch-server-${hostname()}`,
      // cluster mode: readings come from JetStream and presence is retained, so a clean session: a reconnect to another NATS
      // node's gateway then needs none of the session's JetStream state, which a lost node may hold up for seconds
      clean: Boolean(this.opts.cluster),
      keepalive: 60,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(this.opts.cluster ? {} : { will: { topic: SERVER_STATE_TOPIC, payload: Buffer.from('offline'), qos: 1, retain: true as const } }),
    };
    if (this.opts.servers) o.servers = this.opts.servers;
    if (this.opts.username) o.username = this.opts.username;
    if (this.opts.password) o.password = this.opts.password;
    if (this.opts.tls) Object.assign(o, this.opts.tls);
    const client = mqtt.connect(this.opts.url, o);
    this.client = client;
    // PUBACK goes out when `done` is called [MQTT-4.3.2]: withheld while the queue is full.
    client.handleMessage = (packet, done) => {
      try {
        this.onMessage(packet.topic, packet.payload as Buffer);
      } catch (err) {
        this.rejectLog.error('handler_failed', 'ingest handler failed', () => ({ err, topic: packet.topic.slice(0, 200) }));
      }
      this.writes.ack(() => done());
    };
    client.on('connect', () => {
      this.subscribeAll(client, ++this.connects, 1);
      client.publish(SERVER_STATE_TOPIC, 'online', { qos: 1, retain: true });
      this.deps.log.info({ url: this.opts.url, filters: this.filters }, 'mqtt connected');
      this.connection(true);
    });
    client.on('offline', () => this.deps.log.warn({ url: this.opts.url }, 'mqtt offline'));
    client.on('close', () => {
      if (!this.stopped) this.connection(false);
    });
    client.on('error', (err) => this.deps.log.warn({ err }, 'mqtt error'));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`mqtt: no connection to ${this.opts.url} within 10 s`)), 10_000);
      client.once('connect', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /**
   * Subscribes to every filter. A refused subscription (SUBACK 0x80: a NATS
   * gateway whose JetStream had no leader a moment, e.g. after a node was
   * lost; a broker's ACL) is asked again every second while the connection
   * lasts, as the agents do with their watermark: without it no presence
   * comes until the next reconnection. Logged on the first refusal, then once
   * a minute, and when it is granted at last.
   */
  private subscribeAll(client: MqttClient, conn: number, attempt: number): void {
    // cluster mode: presence only, retained (sent again on each subscribe), at QoS 0 for the reason the watermarks go at QoS 0
    const qos = this.opts.cluster ? (0 as const) : (1 as const);
    client.subscribe(Object.fromEntries(this.filters.map((f) => [f, { qos }])), (err) => {
      if (conn !== this.connects || this.stopped) return;
      if (!err) {
        if (attempt > 1) this.deps.log.info({ attempts: attempt }, 'subscription granted after being refused');
        return;
      }
      if (attempt === 1 || attempt % SUBSCRIBE_LOG_EVERY === 0) this.deps.log.error({ err, attempts: attempt }, 'subscribe failed; asked again every second');
      setTimeout(() => {
        if (conn === this.connects && !this.stopped && client.connected) this.subscribeAll(client, conn, attempt + 1);
      }, SUBSCRIBE_RETRY_MS).unref();
    });
  }

  private onMessage(topic: string, payload: Buffer): void {
    const { metrics } = this.deps;
    const admission = this.accept.admission;
    if (topic.startsWith('gridwatch/v1/agent/')) {
      const parts = topic.split('/');
      const agent = parts[3]!;
      if (parts.length === 5 && parts[4] === 'state') {
        const refused = admission.agentState(agent);
        if (refused) return this.accept.reject(refused, agent, () => ({ topic: topic.slice(0, 200) }));
        const state = payload.toString('utf8').slice(0, 32);
        if (this.agentStates.get(agent) !== state) {
          this.agentStates.set(agent, state);
          if (!this.agentFilter || this.agentFilter(agent)) this.emit(this.agentStateListeners, agent, state);
        }
        return;
      }
      // `gridwatch/v1/agent/<x>/readings` matches the readings filter: not a readings topic
      metrics.messagesIn.inc();
      return this.accept.reject('bad_topic', '', () => ({ topic: topic.slice(0, 200) }));
    }
    const call = parseCallTopic(topic);
    if (call) {
      const refused = admission.call(call.site);
      if (refused) return this.accept.reject(refused, '', () => ({ topic: topic.slice(0, 200) }));
      if (payload.length <= 4096) this.emit(this.callListeners, call.site, payload);
      else {
        // the press counts, its details do not: a call is never lost (contract/call.ts)
        this.rejectLog.warn('call_too_large', 'call payload too large; taken as a bare press', () => ({ site: call.site, bytes: payload.length }));
        this.emit(this.callListeners, call.site, Buffer.alloc(0));
      }
      return;
    }
    metrics.messagesIn.inc();
    const parts = parseReadingsTopic(topic);
    if (!parts) return this.accept.reject('bad_topic', '', () => ({ topic: topic.slice(0, 200) }));
    const arrived = this.now();
    const m = this.accept.message(parts, topic, payload, arrived);
    metrics.unknownDevices.set(admission.unknownDeviceCount);
    if (!m) return;
    const { stored, ruled, seqs, from, next, skip } = m;
    let item: Pending | null = null;
    if (seqs.length > 0 || from !== undefined || next !== undefined || skip !== undefined) {
      item = { agent: parts.agent, seqs, readings: stored.length ? stored : null, lines: stored.length, at: arrived };
      if (from !== undefined) item.from = from;
      // a message JetStream delivers again (its ack was lost with a NATS node) is older than the watermark: its `next` would read as a restarted agent
      if (next !== undefined && !this.takingRedelivered) item.next = next;
      if (skip !== undefined) item.skip = skip;
      if (this.taking) {
        item.stored = this.taking;
        this.taking = null;
      }
      this.writes.push(item);
    }
    metrics.readingsIn.inc(stored.length);
    metrics.queueDepth.set(this.writes.held);
    if (stored.length) {
      // the rules first; the rest of this message's work waits until every message that came in with it has had its rules (`afterRules`)
      if (ruled.length) this.emit(this.readingsListeners, ruled, parts.agent);
      // every stored reading has a seq, so its message is held in `item`
      this.later.push({ item: item!, readings: stored });
      this.laterImmediate ??= setImmediate(this.afterRules);
    }
    this.writes.scheduleFlush();
  }

  /**
   * What a message's readings need besides the rules: their encoding for the
   * store and the live feed. Run once per turn of the event loop for all the
   * messages that turn brought in (after an event-loop stall, the dozen that
   * queued meanwhile), after all of their rules ran: the alarm of the last
   * of them does not wait for the others' encoding. The readings still die
   * young: this runs in the same turn (setImmediate, after the socket reads).
   */
  private readonly afterRules = (): void => {
    this.laterImmediate = null;
    const later = this.later;
    this.later = [];
    for (const { item, readings } of later) {
      this.writes.encode(item);
      try {
        this.deps.live.publish(readings);
      } catch (err) {
        this.deps.log.error({ err }, 'live push failed');
      }
    }
  };

  /** Writes everything queued now; resolves when all of it is stored or the timeout passes. */
  async drain(timeoutMs = 10_000): Promise<boolean> {
    if (this.laterImmediate) {
      clearImmediate(this.laterImmediate);
      this.afterRules();
    }
    return this.writes.drain(timeoutMs);
  }

  async stop(): Promise<void> {
    const client = this.client;
    // the broker may be going down with us (`docker compose down`): every exchange with it below is bounded,
    // and none is begun while disconnected (mqtt.js holds it until a reconnect that never comes)
    if (client?.connected) await within(client.unsubscribeAsync(this.filters), BROKER_STOP_MS);
    this.stopped = true;
    this.writes.stop();
    // what cannot be stored now stays below the agents' watermarks: their spools resend it
    const drained = await this.drain(5000);
    if (!drained) {
      this.writes.abandon();
      this.deps.log.warn({ held: this.writes.held }, 'stopping with readings not stored; agents will resend them');
    }
    this.client = null;
    if (client) {
      if (client.connected && !this.opts.cluster) await within(client.publishAsync(SERVER_STATE_TOPIC, 'offline', { qos: 1, retain: true }), BROKER_STOP_MS);
      await this.endClient(client);
    }
    this.rejectLog.flush();
    this.writes.releaseAll();
  }

  /**
   * Closes the MQTT connection. mqtt.js's end() waits until every QoS 1
   * publish it holds is acknowledged (a watermark sent while the broker went
   * away), forever when the broker is gone: disconnected, the connection is
   * closed at once; connected, it gets BROKER_STOP_MS, then the socket is
   * closed. What was not acknowledged is safe to lose: a watermark is
   * published again, and below it the agents resend.
   */
  private async endClient(client: MqttClient): Promise<void> {
    if (!client.connected) {
      await within(client.endAsync(true), BROKER_STOP_MS);
      return;
    }
    if (await within(client.endAsync(), BROKER_STOP_MS)) return;
    this.deps.log.warn({ url: this.opts.url }, 'broker did not acknowledge the last messages at stop; connection closed');
    client.stream?.destroy();
  }
}

/** Whether `p` settled (either way) within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = p.then(
    () => true,
    () => true,
  );
  const r = await Promise.race([settled, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return r;
}
