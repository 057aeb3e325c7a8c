/**
 * MQTT uplink: sends what is in the spool, in seq order, as messages of many
 * readings on `readingsTopic(site, agent)` at QoS 1, and keeps the agent's
 * presence on `agentStateTopic(agent)`: retained `online` on every connect;
 * the last will, which the broker publishes when the connection is lost
 * without a DISCONNECT [MQTT-3.1.2-8], is retained `offline`; `offline` again
 * at a clean stop, because a clean DISCONNECT discards the will [MQTT-3.1.2-10].
 *
 * Store and forward (docs/design.md, Guarantees). The spool holds
 * every reading until the server's watermark (`watermarkTopic(agent)`, "every
 * seq ≤ n is durably stored") covers it. A PUBACK only means the broker has
 * the message — a broker restart without persistence, or a server that dies
 * between PUBACK and store, loses it — so:
 * - on every (re)connect, and whenever a server announces `online` (live, not
 *   the retained copy [MQTT-3.3.1-10]), sending rewinds to the oldest
 *   unacknowledged reading and goes forward again in order;
 * - a watermark is applied only up to what has been (re)sent since the last
 *   rewind (`min(watermark, cursor - 1)`): a reading lost before a server came
 *   back is never forgotten because that server stored newer ones.
 *   Ordering makes this hold: the server subscribes before it publishes
 *   `online`, and its `online` reaches us before any watermark it publishes
 *   later (one publisher, one subscriber, QoS 1: [MQTT-4.6.0-6]).
 * - the watermark moves only over consecutive seqs the server handled; if it
 *   stands still while we have sent beyond it (the broker lost a message
 *   without dropping the connection), sending rewinds to it after
 *   `watermarkStallMs`, doubling up to `watermarkStallMaxMs` while it stays
 *   stuck (not while the server's presence says `offline`: nothing could
 *   move it, and its `online` rewinds anyway);
 * - every message says where the spool starts (`from`: everything below is
 *   acknowledged or dropped by the quota), the seqs the spool could not read
 *   back (`skip`: lines corrupted on disk, or lost with the page cache) and
 *   the next seq (`next`), so the server's watermark can pass what we will
 *   never send, and can tell a watermark of an earlier spool of ours; such a
 *   watermark (at or above our next seq) is ignored here.
 * Readings read while the link was down (after this run's first connection:
 * before it, the first polls merely beat the broker's answer), readings sent
 * again, and readings older than `lateAfterMs` when first sent carry
 * `late: true`: backfill, not
 * live (the server stores them without alarming). Duplicates are harmless: the store's point key is deterministic.
 *
 * Reconnects are this class's own, not mqtt.js's: each connection is a fresh
 * client (mqtt.js would otherwise replay its in-memory outgoing store, which
 * the spool replaces), after an exponential backoff with jitter, capped.
 *
 * One file: sending, rewinding, applying watermarks and the stall resend move
 * one cursor over the spool; the guarantees above hold only as they do together.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from './log.ts';
// the contract's files, not contract/index.ts: that would bring the server's topology schemas (zod) into the agent's script
import { LIMITS, type WatermarkMessage } from '../contract/readings.ts';
import { agentStateTopic, readingsTopic, SERVER_STATE_TOPIC, watermarkTopic } from '../contract/topics.ts';
import type { MqttConfig } from './config.ts';
import { mqttTlsOptions } from './mqtt-tls.ts';
import type { EncodedReadings, Spool } from './spool/index.ts';

export interface UplinkOptions {
  agent: string;
  site: string;
  mqtt: MqttConfig;
  /** pending readings are sent at least this often, ms */
  publishIntervalMs: number;
  spool: Spool;
  log: Logger;
  /** publish at once when this many readings wait; default 500 */
  flushAt?: number;
  /** most readings in one message; default 1000 (the contract allows 10 000 and 4 MiB): with maxInflight, what mqtt.js holds until PUBACK */
  maxBatch?: number;
  /** messages awaiting their PUBACK at once; default 4 */
  maxInflight?: number;
  /** longest wait for acknowledgements at stop, ms; default 5000 */
  stopTimeoutMs?: number;
  /** a reading first sent more than this after its poll is late, ms; default 10 000 */
  lateAfterMs?: number;
  /** epoch ms, for the age of a reading; default Date.now */
  clock?: () => number;
  /** resend from the watermark when it has not moved this long while readings above it were sent, ms; default 30 000 */
  watermarkStallMs?: number;
  /** the wait doubles while the watermark stays stuck, up to this, ms; default 300 000 */
  watermarkStallMaxMs?: number;
  /** called once per connection when a live watermark of the server covers everything read before it connected */
  onCaughtUp?: () => void;
  /** [0, 1), for the reconnect jitter; default Math.random */
  random?: () => number;
}

export interface UplinkStats {
  connected: boolean;
  /** readings in the spool not yet sent on this connection */
  pending: number;
  /** messages awaiting their PUBACK */
  inflight: number;
  /** readings acknowledged by the broker (PUBACK) */
  published: number;
  messages: number;
  /** readings sent marked late (backfill) */
  late: number;
  /** readings sent again after a rewind */
  resent: number;
  /** times sending went back to the oldest unacknowledged reading */
  rewinds: number;
  /** rewinds because the watermark stood still while readings above it were sent */
  stalls: number;
  /** seqs the spool could not read back, sent as `skip` */
  skipped: number;
  /** highest seq the server reported durably stored (-1: none yet) */
  watermark: number;
  /** successful connections */
  connects: number;
  /** connection attempts that failed or were dropped before CONNACK */
  connectFailures: number;
  /** the delay before the next connection attempt, ms (0 when connected) */
  reconnectDelayMs: number;
}

type LinkState = 'down' | 'up';

/** The payload limit of the contract, with room for the envelope. */
const MAX_MESSAGE_BYTES = LIMITS.maxMessageBytes - 4096;
/** how a reading's JSON ends when it is flagged late (the spool writes `late` last) */
const LATE_SUFFIX = ',"late":true}';

export class ReadingsUplink {
  private readonly o: Required<Omit<UplinkOptions, 'log' | 'spool' | 'onCaughtUp'>>;
  private readonly onCaughtUp: (() => void) | undefined;
  private readonly log: Logger;
  private readonly spool: Spool;
  private readonly topic: string;
  private readonly stateTopic: string;
  private readonly wmTopic: string;
  private client: MqttClient | null = null;
  /** bumped per connection: callbacks of an older connection are ignored */
  private gen = 0;
  private connected = false;
  private connectedAt = 0;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = 0;
  private interval: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  /** next seq to send */
  private cursor = 0;
  /** highest seq ever sent by this process (or held in the spool at start) */
  private sentHigh = -1;
  /** readings below this seq were read while the link was down: backfill */
  private liveFrom = 0;
  /** highest watermark received */
  private watermark = -1;
  private inflight = 0;
  private drainedWaiters: Array<() => void> = [];
  private started = false;
  private stopping = false;
  private link: LinkState = 'down';
  private lastError = '';
  private downReported = false;
  /** performance.now() when the watermark last moved (or nothing was waiting for it) */
  private wmMovedAt = 0;
  private stallWaitMs = 0;
  private caughtUp = false;
  /** the server's presence (retained, last will) says offline: no watermark can come, its `online` will rewind */
  private serverOffline = false;
  private futureWmReported = false;
  /** highest seq reported skipped (each hole is logged and counted once) */
  private skippedHigh = -1;
  private readonly s = { published: 0, messages: 0, late: 0, resent: 0, rewinds: 0, stalls: 0, skipped: 0, connects: 0, connectFailures: 0 };

  /** Does no I/O. */
  constructor(opts: UplinkOptions) {
    this.log = opts.log;
    this.spool = opts.spool;
    this.o = {
      agent: opts.agent,
      site: opts.site,
      mqtt: opts.mqtt,
      publishIntervalMs: opts.publishIntervalMs,
      flushAt: opts.flushAt ?? 500,
      maxBatch: Math.min(opts.maxBatch ?? 1000, LIMITS.maxReadingsPerMessage),
      maxInflight: opts.maxInflight ?? 4,
      stopTimeoutMs: opts.stopTimeoutMs ?? 5000,
      lateAfterMs: opts.lateAfterMs ?? 10_000,
      clock: opts.clock ?? Date.now,
      random: opts.random ?? Math.random,
      watermarkStallMs: opts.watermarkStallMs ?? 30_000,
      watermarkStallMaxMs: Math.max(opts.watermarkStallMaxMs ?? 300_000, opts.watermarkStallMs ?? 30_000),
    };
    this.onCaughtUp = opts.onCaughtUp;
    this.stallWaitMs = this.o.watermarkStallMs;
    this.topic = readingsTopic(opts.site, opts.agent);
    this.stateTopic = agentStateTopic(opts.agent);
    this.wmTopic = watermarkTopic(opts.agent);
  }

  stats(): UplinkStats {
    return {
      connected: this.connected,
      pending: Math.max(0, this.spool.nextSeq - Math.max(this.cursor, this.spool.firstSeq)),
      inflight: this.inflight,
      ...this.s,
      watermark: this.watermark,
      reconnectDelayMs: this.connected ? 0 : this.reconnectDelay,
    };
  }

  /**
   * Starts connecting (in the background: polling does not wait for the
   * broker) and the publish timer. The spool must be open: what it holds from
   * before is sent first, marked late.
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.watermark = this.spool.acked;
    this.cursor = this.spool.firstSeq;
    // whatever the spool holds at start was read by an earlier run: backfill
    this.sentHigh = this.spool.nextSeq - 1;
    this.liveFrom = this.spool.nextSeq;
    this.connect();
    this.interval = setInterval(() => this.flush(), this.o.publishIntervalMs);
  }

  /**
   * Called after readings were appended to the spool: sends at once when
   * enough wait, and for the first readings of this run (start-up to the
   * first publish should not wait for the publish interval).
   */
  notify(): void {
    if (this.stopping || this.immediate || !this.connected) return;
    if (this.spool.nextSeq - this.cursor >= this.o.flushAt || (this.s.messages === 0 && this.inflight === 0)) {
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.flush();
      });
    }
  }

  private connect(): void {
    const gen = ++this.gen;
    const m = this.o.mqtt;
    let tls;
    try {
      tls = mqttTlsOptions(m.tls);
    } catch (err) {
      // a certificate file that cannot be read: tried again with the backoff, said once
      if ((err as Error).message !== this.lastError) this.log.error({ err }, 'mqtt TLS files');
      this.lastError = (err as Error).message;
      this.s.connectFailures++;
      this.scheduleReconnect();
      return;
    }
    const client = mqtt.connect(m.url, {
      ...tls,
      clientId: m.clientId ?? `gridwatch-agent-${this.o.agent}`,
      ...(m.username !== undefined ? { username: m.username } : {}),
      ...(m.password !== undefined ? { password: m.password } : {}),
      keepalive: m.keepaliveS,
      // reconnecting is ours (see the header comment)
      reconnectPeriod: 0,
      // no cache of 65,536 pre-made 2-byte Buffers (6 MB of heap) for packet lengths and ids
      writeCache: false,
      connectTimeout: 10_000,
      clean: true,
      will: { topic: this.stateTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      if (gen === this.gen) this.onConnect(client, gen);
    });
    client.on('message', (topic, payload, packet) => {
      if (gen === this.gen) this.onMessage(topic, payload, packet.retain);
    });
    client.on('error', (err) => {
      // log each distinct error once, not on every attempt
      if (err.message !== this.lastError) this.log.warn({ err }, 'mqtt error');
      this.lastError = err.message;
    });
    client.on('close', () => {
      if (gen === this.gen) this.onClose(client);
    });
  }

  private onConnect(client: MqttClient, gen: number): void {
    this.connected = true;
    this.connectedAt = performance.now();
    this.reconnectDelay = 0;
    // what was read while we were away is backfill; from here on readings are live. Not on the
    // first connection: what this run read before it was not read while away (the broker is
    // usually slower to answer than the first poll) and is late only by its age
    if (this.s.connects > 0) this.liveFrom = this.spool.nextSeq;
    this.s.connects++;
    this.caughtUp = false;
    this.wmMovedAt = this.connectedAt;
    this.lastError = '';
    this.downReported = false;
    client.publish(this.stateTopic, 'online', { qos: 1, retain: true });
    this.setLink('up', 'connected');
    client.subscribe({ [this.wmTopic]: { qos: 1 }, [SERVER_STATE_TOPIC]: { qos: 1 } }, (err) => {
      if (gen !== this.gen) return;
      if (err) this.resubscribe(client, gen, err);
      // the broker may have lost what it acknowledged before: go again from the oldest unacknowledged
      this.rewind('connected');
      this.flush();
    });
  }

  /**
   * A refused subscription (a NATS gateway whose JetStream had no leader a
   * moment, e.g. after a node was lost) is asked again every second while the
   * connection lasts: without it no watermark comes, and the spool only grows.
   */
  private resubscribe(client: MqttClient, gen: number, err: Error): void {
    this.log.warn({ err }, 'subscribe to the watermark failed; asked again in 1 s (readings stay spooled meanwhile)');
    setTimeout(() => {
      if (gen !== this.gen) return;
      client.subscribe({ [this.wmTopic]: { qos: 1 }, [SERVER_STATE_TOPIC]: { qos: 1 } }, (again) => {
        if (gen === this.gen && again) this.resubscribe(client, gen, again);
      });
    }, 1000).unref();
  }

  private onClose(client: MqttClient): void {
    const wasConnected = this.connected;
    this.connected = false;
    // callbacks of this connection's publishes are ignored from here on; what they carried is still in the spool
    this.gen++;
    this.inflight = 0;
    this.wakeDrained();
    try {
      client.end(true);
    } catch {
      // already ended
    }
    if (this.client === client) this.client = null;
    if (this.stopping) return;
    if (!wasConnected) {
      this.s.connectFailures++;
      if (!this.downReported) {
        // not connected yet: say so once, not on every attempt
        this.downReported = true;
        this.log.warn({ reason: this.lastError || 'connection closed', url: redactUrl(this.o.mqtt.url) }, 'mqtt not connected; retrying with backoff');
      }
    } else if (performance.now() - this.connectedAt > 30_000) {
      // a connection that held for a while starts the backoff over
      this.attempt = 0;
    }
    this.scheduleReconnect();
    this.setLink('down', this.lastError || 'connection closed');
  }

  /** Exponential backoff from reconnectPeriodMs to reconnectMaxMs, with "equal jitter" (half fixed, half random). */
  private scheduleReconnect(): void {
    const { reconnectPeriodMs: min, reconnectMaxMs: max } = this.o.mqtt;
    const base = Math.min(Math.max(min, max), min * 2 ** Math.min(this.attempt, 20));
    this.attempt++;
    const delay = Math.round(base / 2 + (this.o.random() * base) / 2);
    this.reconnectDelay = delay;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopping) this.connect();
    }, delay);
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (topic === this.wmTopic) {
      let msg: Partial<WatermarkMessage>;
      try {
        msg = JSON.parse(payload.toString('utf8')) as Partial<WatermarkMessage>;
      } catch {
        this.log.warn({ topic }, 'watermark is not JSON; ignored');
        return;
      }
      if (msg.agent !== this.o.agent || typeof msg.seq !== 'number' || !Number.isSafeInteger(msg.seq)) {
        this.log.warn({ topic, agent: msg.agent }, 'watermark malformed or for another agent; ignored');
        return;
      }
      if (msg.seq >= this.spool.nextSeq) {
        // covers seqs we have not read: a watermark of an earlier spool of ours (the server starts it again on our next message)
        if (!this.futureWmReported) this.log.warn({ watermark: msg.seq, nextSeq: this.spool.nextSeq }, 'watermark above our next seq (from an earlier spool); ignored');
        this.futureWmReported = true;
        return;
      }
      if (msg.seq > this.watermark) {
        this.watermark = msg.seq;
        this.wmMovedAt = performance.now();
        this.stallWaitMs = this.o.watermarkStallMs;
        this.applyWatermark();
      }
      // A live watermark (not the retained copy [MQTT-3.3.1-9]) that covers everything read before this
      // connection: a server is listening and has the backlog, so what is appended now goes out live.
      if (!retained && !this.caughtUp && this.connected && !this.stopping && msg.seq >= this.liveFrom - 1) {
        this.caughtUp = true;
        this.onCaughtUp?.();
      }
      return;
    }
    if (topic === SERVER_STATE_TOPIC) this.serverOffline = payload.toString('utf8') === 'offline';
    if (topic === SERVER_STATE_TOPIC && !retained && payload.toString('utf8') === 'online') {
      // a server (re)started: it may have lost what it had not stored yet
      this.rewind('server online');
      this.flush();
    }
  }

  /** Forgets what the server stored — but only what was (re)sent since the last rewind. */
  private applyWatermark(): void {
    const upTo = Math.min(this.watermark, this.cursor - 1);
    if (upTo > this.spool.acked) this.spool.ack(upTo);
  }

  private rewind(reason: string): void {
    const to = Math.max(this.spool.acked + 1, this.spool.firstSeq);
    if (this.cursor > to) {
      this.s.rewinds++;
      this.log.info({ reason, fromSeq: to, readings: this.cursor - to }, 'resending unacknowledged readings');
    }
    this.cursor = to;
  }

  /**
   * The watermark has not moved for the stall wait while readings above it
   * were sent: a message is lost between us and the server's store without
   * the connection dropping (a broker restarted between PUBACK and delivery,
   * a server that lost a batch). Send again from the watermark; the wait
   * doubles while it stays stuck, so a slow store is not flooded.
   */
  private checkStall(): void {
    const now = performance.now();
    if (this.cursor - 1 <= this.watermark || this.serverOffline) {
      this.wmMovedAt = now; // nothing waits for the watermark, or no server is there to move it
      return;
    }
    if (now - this.wmMovedAt < this.stallWaitMs) return;
    this.s.stalls++;
    this.log.warn({ watermark: this.watermark, sentUpTo: this.cursor - 1, waitedMs: Math.round(now - this.wmMovedAt) }, 'watermark stalled; resending from it');
    this.rewind('watermark stalled');
    this.wmMovedAt = now;
    this.stallWaitMs = Math.min(this.stallWaitMs * 2, this.o.watermarkStallMaxMs);
  }

  /** Sends what waits in the spool, in messages of at most maxBatch readings, keeping maxInflight messages outstanding. */
  flush(): void {
    this.spool.flush();
    const client = this.client;
    if (!client || !this.connected) return;
    if (!this.stopping) this.checkStall();
    const gen = this.gen;
    while (this.inflight < this.o.maxInflight) {
      const start = Math.max(this.cursor, this.spool.firstSeq);
      let batch = this.spool.readEncoded(start, this.o.maxBatch);
      if (batch.seqs.length === 0) break;
      let body = this.encode(batch, start);
      // a message must stay under the contract's size limit (long device ids, many quantities)
      while (body.json.length > MAX_MESSAGE_BYTES && batch.seqs.length > 1) {
        const half = Math.ceil(batch.seqs.length / 2);
        batch = { seqs: batch.seqs.slice(0, half), ts: batch.ts.slice(0, half), json: batch.json.slice(0, half) };
        body = this.encode(batch, start);
      }
      const n = batch.seqs.length;
      const last = batch.seqs[n - 1]!;
      this.s.late += body.late;
      this.s.resent += body.resent;
      this.cursor = last + 1;
      if (last > this.sentHigh) this.sentHigh = last;
      this.inflight++;
      client.publish(this.topic, body.json, { qos: 1 }, (err) => {
        if (gen !== this.gen) return;
        this.inflight--;
        if (err) {
          // not sent: this and everything after it go again, in order
          this.log.warn({ err, readings: n }, 'publish failed');
          this.rewind('publish failed');
        } else {
          this.s.published += n;
          this.s.messages++;
        }
        if (this.inflight === 0) this.wakeDrained();
        if (!this.stopping || !err) this.flush();
      });
    }
    this.applyWatermark();
  }

  /**
   * The message for a batch, as JSON text: the readings' JSON goes in as the
   * spool wrote it. `start`: the seq the batch was read from; seqs missing
   * before and between its readings are gone from the spool.
   */
  private encode(batch: EncodedReadings, start: number): { json: string; late: number; resent: number } {
    const now = this.o.clock();
    let late = 0;
    let resent = 0;
    let expect = start;
    let skip: [number, number][] | undefined;
    const { seqs, ts, json } = batch;
    for (const seq of seqs) {
      if (seq > expect) (skip ??= []).push([expect, seq - 1]);
      expect = seq + 1;
    }
    if (skip) this.reportSkipped(skip);
    let readings = '';
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]!;
      let line = json[i]!;
      const again = seq <= this.sentHigh;
      if (again) resent++;
      const marked = line.endsWith(LATE_SUFFIX);
      if (again || marked || seq < this.liveFrom || now - ts[i]! > this.o.lateAfterMs) {
        late++;
        // `late` is the reading's last key when the spool wrote it; added here the same way
        if (!marked) line = `${line.slice(0, -1)}${LATE_SUFFIX}`;
      }
      readings += i === 0 ? line : `,${line}`;
    }
    // the keys in ReadingsMessage's order: agent, readings, from, next, skip
    let msg = `{"agent":${JSON.stringify(this.o.agent)},"readings":[${readings}],"from":${this.spool.firstSeq},"next":${this.spool.nextSeq}`;
    if (skip) msg += `,"skip":${JSON.stringify(skip.slice(0, LIMITS.maxSkipRanges))}`;
    return { json: `${msg}}`, late, resent };
  }

  private reportSkipped(skip: readonly [number, number][]): void {
    const last = skip[skip.length - 1]![1];
    if (last <= this.skippedHigh) return;
    let n = 0;
    for (const [a, b] of skip) if (b > this.skippedHigh) n += b - Math.max(a, this.skippedHigh + 1) + 1;
    this.skippedHigh = last;
    this.s.skipped += n;
    this.log.error({ skip: skip.slice(0, 10), readings: n }, 'spool lines could not be read back; their seqs are skipped (gone)');
  }

  private wakeDrained(): void {
    for (const w of this.drainedWaiters.splice(0)) w();
  }

  /** Resolves when nothing is in flight. */
  private whenDrained(): Promise<void> {
    return this.inflight === 0 ? Promise.resolve() : new Promise((r) => this.drainedWaiters.push(r));
  }

  /**
   * Sends what the spool holds (waiting for the PUBACKs, up to stopTimeoutMs),
   * publishes `offline`, disconnects. What could not be sent stays in the spool.
   */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    if (this.interval) clearInterval(this.interval);
    if (this.immediate) clearImmediate(this.immediate);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.interval = null;
    this.immediate = null;
    this.reconnectTimer = null;
    const client = this.client;
    const deadline = performance.now() + this.o.stopTimeoutMs;
    if (client && this.connected) {
      for (;;) {
        this.flush();
        const left = deadline - performance.now();
        if (left <= 0 || !(await this.withTimeout(this.whenDrained(), left, 'acknowledgements at stop'))) break;
        if (!this.connected || this.spool.readEncoded(this.cursor, 1).seqs.length === 0) break;
      }
      if (this.connected)
        await this.withTimeout(client.publishAsync(this.stateTopic, 'offline', { qos: 1, retain: true }), this.o.stopTimeoutMs, 'offline state at stop');
    }
    const unsent = this.stats().pending;
    if (unsent > 0) this.log.warn({ readings: unsent }, 'stopped with readings not sent; they stay in the spool');
    this.gen++;
    this.client = null;
    if (client) {
      const ended = await this.withTimeout(client.endAsync(), this.o.stopTimeoutMs, 'disconnect');
      if (!ended) await client.endAsync(true);
    }
    this.connected = false;
    this.setLink('down', 'stopped');
  }

  /** true when `p` settled in time; logs and returns false otherwise. Clears its timer either way. */
  private async withTimeout(p: Promise<unknown>, ms: number, what: string): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
    try {
      const r = await Promise.race([p.then(() => 'ok' as const, (err: unknown) => err), timeout]);
      if (r === 'ok') return true;
      this.log.warn({ err: r === 'timeout' ? undefined : r, timeoutMs: ms }, `mqtt: ${what} ${r === 'timeout' ? 'timed out' : 'failed'}`);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  private setLink(to: LinkState, reason: string): void {
    if (this.link === to) return;
    const from = this.link;
    this.link = to;
    if (to === 'up') this.log.info({ from, to, reason, url: redactUrl(this.o.mqtt.url) }, 'mqtt connection state changed');
    else if (!this.stopping) {
      this.downReported = true;
      this.log.warn({ from, to, reason, url: redactUrl(this.o.mqtt.url), retryInMs: this.reconnectDelay }, 'mqtt connection state changed');
    }
  }
}

/** The broker URL without credentials, for logs. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}
