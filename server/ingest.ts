/**
 * MQTT ingest: subscribe, take what may be taken (server/ingest-accept.ts:
 * the contract, the binding to the sending agent, bounds, tags), push live,
 * batch into the store, and publish each agent's durable watermark only
 * after the store confirmed the write (server/ingest-watermarks.ts).
 *
 * Backpressure: the PUBACK of a message is withheld while more than
 * `maxPending` readings wait for the store, so a slow or down store makes the
 * broker hold messages instead of this process growing without bound.
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

interface InFlight {
  items: Pending[];
  done: boolean;
  /** seqs of its items (for `held`) */
  seqs: number;
}

/**
 * One accepted message held until the store confirms it: one object per
 * message, not per reading, so what waits through a store write (100–400 ms
 * under load) is a handful of objects for the garbage collector to copy, not
 * one per reading (those were promoted to the old generation and paid for
 * in mark-compact pauses on the loop that delivers alarms).
 */
interface Pending {
  agent: string;
  /** the seqs this message settles once stored, in order: its readings', then its rejected readings' (handled, not stored) */
  seqs: number[];
  /** the readings, until encoded in `chunk` (a store without `encode` takes them as they are) */
  readings: StoredReading[] | null;
  /** the store's encoding of the readings (TelemetryStore.encode) */
  chunk?: Uint8Array;
  /** readings to store */
  lines: number;
  /** epoch ms the message arrived: the age of the oldest held reading is the store lag */
  at: number;
  /** the message's envelope (ReadingsMessage.from / next / skip), applied before its seqs */
  from?: number;
  next?: number;
  skip?: [number, number][];
}

export class Ingest {
  private client: MqttClient | null = null;
  private queue: Pending[] = [];
  /** readings to store in `queue`, and seqs it settles (readings plus rejected ones) */
  private queuedLines = 0;
  private queuedSeqs = 0;
  /** seqs of the batches in `inflight` */
  private inflightSeqs = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  /** each agent's watermark, published once the store confirmed what it covers */
  private readonly watermarks: Watermarks;
  /** presence of the topology's agents and of a bounded number of others (server/ingest-admission.ts) */
  private readonly agentStates = new Map<string, string>();
  private readonly accept: Acceptance;
  private readonly rejectLog: RejectLog;
  private waiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  /** batches being written or written but waiting for an older one before their watermarks advance, oldest first */
  private readonly inflight: InFlight[] = [];
  /** store writes in progress (the inflight batches not yet done) */
  private writing = 0;
  private abandoned = false;
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
  lastStoredAt: number | null = null;
  storeHealthy = true;

  constructor(
    private readonly opts: IngestOptions,
    private readonly deps: {
      store: TelemetryStore;
      live: LiveHub;
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
      (msg) => this.client?.publish(watermarkTopic(msg.agent), JSON.stringify(msg), { qos: 1, retain: true }),
      () => this.now(),
    );
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
    this.filters = [
      ...sites.map((s) => share(`${TOPIC_ROOT}/${s}/+/readings`)),
      ...sites.map((s) => share(`${TOPIC_ROOT}/${s}/call`)),
      AGENT_STATE_FILTER,
    ];
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
        this.deps.log.error({ err }, 'ingest listener failed');
      }
    }
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  get queueDepth(): number {
    return this.held;
  }

  /** How long the oldest reading not yet stored has been waiting, ms (0 when none waits). */
  get storeLagMs(): number {
    const oldest = this.inflight[0]?.items[0] ?? this.queue[0];
    return oldest ? Math.max(0, this.now() - oldest.at) : 0;
  }

  watermark(agent: string): number | undefined {
    return this.watermarks.get(agent);
  }

  agents(): Record<string, { state: string | null; watermark: number | null }> {
    const out: Record<string, { state: string | null; watermark: number | null }> = {};
    for (const a of new Set([...this.watermarks.agents(), ...this.agentStates.keys()]))
      out[a] = { state: this.agentStates.get(a) ?? null, watermark: this.watermarks.get(a) ?? null };
    return out;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const o: IClientOptions = {
      // A persistent session ([MQTT-3.1.2-4]): QoS 1 messages the broker could not
      // deliver while we were away or holding acks are kept and delivered on reconnect.
      clientId: this.opts.clientId ?? `gridwatch-server-${hostname()}`,
      clean: false,
      keepalive: 60,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: { topic: SERVER_STATE_TOPIC, payload: Buffer.from('offline'), qos: 1, retain: true },
    };
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
        this.deps.log.error({ err, topic: packet.topic }, 'ingest handler failed');
      }
      if (this.held < this.opts.maxPending) done();
      else this.waiters.push(() => done());
    };
    const filters = this.filters;
    client.on('connect', () => {
      client.subscribe(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])), (err) => {
        if (err) this.deps.log.error({ err }, 'subscribe failed');
      });
      client.publish(SERVER_STATE_TOPIC, 'online', { qos: 1, retain: true });
      this.deps.log.info({ url: this.opts.url, filters }, 'mqtt connected');
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
          this.emit(this.agentStateListeners, agent, state);
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
      if (next !== undefined) item.next = next;
      if (skip !== undefined) item.skip = skip;
      this.queue.push(item);
      this.queuedSeqs += seqs.length;
      this.queuedLines += stored.length;
    }
    metrics.readingsIn.inc(stored.length);
    metrics.queueDepth.set(this.held);
    if (stored.length) {
      // the rules first; the rest of this message's work waits until every message that came in with it has had its rules (`afterRules`)
      if (ruled.length) this.emit(this.readingsListeners, ruled, parts.agent);
      // every stored reading has a seq, so its message is held in `item`
      this.later.push({ item: item!, readings: stored });
      this.laterImmediate ??= setImmediate(this.afterRules);
    }
    this.scheduleFlush();
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
      this.encodeItem(item);
      try {
        this.deps.live.publish(readings);
      } catch (err) {
        this.deps.log.error({ err }, 'live push failed');
      }
    }
  };

  /**
   * Replaces a held message's readings by the store's encoding of them, when
   * the store has one. An encoder that throws (a bug) leaves the readings as
   * they are: the batch's write then fails and is retried, loudly, and
   * nothing is lost or acknowledged past them.
   */
  private encodeItem(item: Pending): void {
    const encode = this.deps.store.encode;
    if (!encode || !item.readings) return;
    try {
      item.chunk = encode.call(this.deps.store, item.readings);
      item.readings = null;
    } catch (err) {
      this.deps.log.error({ err, agent: item.agent, readings: item.lines }, 'encoding readings for the store failed');
    }
  }

  /** readings held in memory (rejected ones included until their message is settled): queued plus being written */
  private get held(): number {
    return this.queuedSeqs + this.inflightSeqs;
  }

  private scheduleFlush(): void {
    if (this.timer || this.stopped || this.queue.length === 0) return;
    // a batch stored ahead of an older one waits for it in `inflight` but no longer takes a writer
    if (this.writing >= this.opts.writeConcurrency) return;
    // while the store is failing only the batches already in flight retry
    if (!this.storeHealthy && this.inflight.length > 0) return;
    const delay = this.queuedLines >= this.opts.batchSize ? 0 : this.opts.flushIntervalMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.startWrite();
      this.scheduleFlush();
    }, delay);
  }

  /** Takes the next batch off the queue and writes it; batches complete out of order but watermarks advance in order. */
  private startWrite(): void {
    // whole messages, up to batchSize readings (at least one message)
    let n = 0;
    let lines = 0;
    let seqCount = 0;
    while (n < this.queue.length && (n === 0 || lines + this.queue[n]!.lines <= this.opts.batchSize)) {
      lines += this.queue[n]!.lines;
      seqCount += this.queue[n]!.seqs.length;
      n++;
    }
    if (n === 0) return;
    const items = this.queue.splice(0, n);
    this.queuedLines -= lines;
    this.queuedSeqs -= seqCount;
    this.inflightSeqs += seqCount;
    const rec: InFlight = { items, done: false, seqs: seqCount };
    this.inflight.push(rec);
    this.writing++;
    void this.writeUntilStored(rec);
  }

  private async writeUntilStored(rec: InFlight): Promise<void> {
    const readings: StoredReading[] = [];
    const encoded: Uint8Array[] = [];
    let count = 0;
    for (const p of rec.items) {
      // a batch that leaves before `afterRules` ran (a full batch, a timer first in the loop's turn)
      this.encodeItem(p);
      if (p.chunk) encoded.push(p.chunk);
      else if (p.readings) for (const r of p.readings) readings.push(r);
      count += p.lines;
    }
    const { metrics, log, store } = this.deps;
    let delay = 100;
    for (;;) {
      const t0 = performance.now();
      try {
        if (readings.length) await store.write(readings);
        if (encoded.length) await store.writeEncoded!(encoded);
        metrics.storeLatency.observe((performance.now() - t0) / 1000);
        break;
      } catch (err) {
        metrics.storeErrors.inc();
        if (this.storeHealthy) log.error({ err, from: 'healthy', to: 'failing', batch: count }, 'store write failed; holding readings and retrying');
        this.storeHealthy = false;
        if (this.abandoned) return;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(5000, delay * 2);
      }
    }
    if (!this.storeHealthy) log.info({ from: 'failing', to: 'healthy' }, 'store writes recovered');
    this.storeHealthy = true;
    metrics.batchSize.observe(count);
    metrics.stored.inc(count);
    this.lastStoredAt = this.now();
    rec.done = true;
    this.writing--;
    // a watermark may only cover batches that are all stored: advance from the oldest
    while (this.inflight[0]?.done) {
      const settled = this.inflight.shift()!;
      this.inflightSeqs -= settled.seqs;
      this.watermarks.settle(settled.items);
    }
    metrics.queueDepth.set(this.held);
    this.releaseWaiters();
    this.scheduleFlush();
    if (this.inflight.length === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private releaseWaiters(): void {
    while (this.waiters.length && this.held < this.opts.maxPending) this.waiters.shift()!();
  }

  /** Writes everything queued now; resolves when all of it is stored or the timeout passes. */
  async drain(timeoutMs = 10_000): Promise<boolean> {
    if (this.laterImmediate) {
      clearImmediate(this.laterImmediate);
      this.afterRules();
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.queue.length > 0 && this.writing < this.opts.writeConcurrency) this.startWrite();
    if (this.inflight.length === 0 && this.queue.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const ok = await Promise.race([idle, timeout]);
    clearTimeout(timer);
    return ok;
  }

  async stop(): Promise<void> {
    const client = this.client;
    // the broker may be going down with us (`docker compose down`): every exchange with it below is bounded,
    // and none is begun while disconnected (mqtt.js holds it until a reconnect that never comes)
    if (client?.connected) await within(client.unsubscribeAsync(this.filters), BROKER_STOP_MS);
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // what cannot be stored now stays below the agents' watermarks: their spools resend it
    const drained = await this.drain(5000);
    if (!drained) {
      this.abandoned = true;
      this.deps.log.warn({ held: this.held }, 'stopping with readings not stored; agents will resend them');
    }
    this.client = null;
    if (client) {
      if (client.connected) await within(client.publishAsync(SERVER_STATE_TOPIC, 'offline', { qos: 1, retain: true }), BROKER_STOP_MS);
      await this.endClient(client);
    }
    this.rejectLog.flush();
    for (const w of this.waiters.splice(0)) w();
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
