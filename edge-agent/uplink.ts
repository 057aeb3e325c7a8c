/**
 * MQTT uplink: batches readings into one message per publish period on
 * `readingsTopic(site, agent)` at QoS 1, and keeps the agent's presence on
 * `agentStateTopic(agent)` (retained `online` on every connect; the last will,
 * set by the broker when the connection is lost without a DISCONNECT
 * [MQTT-3.1.2-8], is retained `offline`; `offline` again at a clean stop,
 * because a clean DISCONNECT discards the will [MQTT-3.1.2-10]).
 *
 * Until the disk spool exists, readings wait in memory while the broker is
 * away, up to `maxPending`; beyond that the oldest are dropped, counted and
 * logged. QoS 1 messages already handed to mqtt.js are resent by it after a
 * reconnect.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { agentStateTopic, readingsTopic, type Reading, type ReadingsMessage } from '../contract/index.ts';
import type { MqttConfig } from './config.ts';

export interface UplinkOptions {
  agent: string;
  site: string;
  mqtt: MqttConfig;
  publishIntervalMs: number;
  log: Logger;
  /** publish at once when this many readings are pending; default 500 */
  flushAt?: number;
  /** most readings in one message; default 5000 (the contract allows 10 000 and 4 MiB) */
  maxBatch?: number;
  /** most readings held while the broker is unreachable; default 100 000 */
  maxPending?: number;
  /** longest wait for acknowledgements at stop, ms; default 5000 */
  stopTimeoutMs?: number;
}

export interface UplinkStats {
  connected: boolean;
  pending: number;
  /** messages handed to mqtt.js and not yet acknowledged (PUBACK) */
  inflight: number;
  /** readings acknowledged by the broker */
  published: number;
  messages: number;
  /** readings dropped because `maxPending` was exceeded or the agent stopped while disconnected */
  dropped: number;
}

type LinkState = 'down' | 'up';

export class ReadingsUplink {
  private readonly o: Required<Omit<UplinkOptions, 'log'>>;
  private readonly log: Logger;
  private readonly topic: string;
  private readonly stateTopic: string;
  private client: MqttClient | null = null;
  private pending: Reading[] = [];
  private interval: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private inflight = 0;
  private inflightDrained: (() => void) | null = null;
  private stopping = false;
  private link: LinkState = 'down';
  private lastError = '';
  private downReported = false;
  private overflowReported = false;
  private readonly s = { published: 0, messages: 0, dropped: 0 };

  /** Does no I/O. */
  constructor(opts: UplinkOptions) {
    this.log = opts.log;
    this.o = {
      agent: opts.agent,
      site: opts.site,
      mqtt: opts.mqtt,
      publishIntervalMs: opts.publishIntervalMs,
      flushAt: opts.flushAt ?? 500,
      maxBatch: opts.maxBatch ?? 5000,
      maxPending: opts.maxPending ?? 100_000,
      stopTimeoutMs: opts.stopTimeoutMs ?? 5000,
    };
    this.topic = readingsTopic(opts.site, opts.agent);
    this.stateTopic = agentStateTopic(opts.agent);
  }

  stats(): UplinkStats {
    return { connected: this.client?.connected === true, pending: this.pending.length, inflight: this.inflight, ...this.s };
  }

  /** Starts connecting (in the background: polling does not wait for the broker) and the publish timer. */
  start(): void {
    const m = this.o.mqtt;
    const client = mqtt.connect(m.url, {
      clientId: m.clientId ?? `gridwatch-agent-${this.o.agent}`,
      ...(m.username !== undefined ? { username: m.username } : {}),
      ...(m.password !== undefined ? { password: m.password } : {}),
      keepalive: m.keepaliveS,
      reconnectPeriod: m.reconnectPeriodMs,
      connectTimeout: 10_000,
      clean: true,
      will: { topic: this.stateTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      client.publish(this.stateTopic, 'online', { qos: 1, retain: true });
      this.setLink('up', 'connected');
      this.lastError = '';
      this.downReported = false;
      this.overflowReported = false;
      this.flush();
    });
    client.on('close', () => {
      if (this.link === 'down' && !this.stopping && !this.downReported) {
        // not connected yet: say so once, not on every reconnect attempt
        this.downReported = true;
        this.log.warn({ reason: this.lastError || 'connection closed', url: redactUrl(this.o.mqtt.url), retryMs: this.o.mqtt.reconnectPeriodMs }, 'mqtt not connected; retrying');
      }
      this.setLink('down', this.lastError || 'connection closed');
    });
    client.on('error', (err) => {
      // mqtt.js keeps reconnecting after an error; log each distinct one once
      if (err.message !== this.lastError) this.log.warn({ err }, 'mqtt error');
      this.lastError = err.message;
    });
    this.interval = setInterval(() => this.flush(), this.o.publishIntervalMs);
  }

  push(reading: Reading): void {
    this.pending.push(reading);
    if (this.pending.length > this.o.maxPending) {
      const excess = this.pending.length - this.o.maxPending;
      this.pending.splice(0, excess);
      this.s.dropped += excess;
      if (!this.overflowReported) {
        this.overflowReported = true;
        this.log.error({ maxPending: this.o.maxPending }, 'broker unreachable and pending readings full: dropping the oldest');
      }
    }
    if (this.pending.length >= this.o.flushAt && !this.immediate && !this.stopping) {
      this.immediate = setImmediate(() => {
        this.immediate = null;
        this.flush();
      });
    }
  }

  /** Publishes everything pending, in messages of at most maxBatch readings. */
  flush(): void {
    const client = this.client;
    if (!client?.connected) return;
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.o.maxBatch);
      const msg: ReadingsMessage = { agent: this.o.agent, readings: batch };
      this.inflight++;
      client.publish(this.topic, JSON.stringify(msg), { qos: 1 }, (err) => {
        this.inflight--;
        if (err) {
          // mqtt.js refused it (disconnecting): keep the readings for the next attempt
          if (this.stopping) this.s.dropped += batch.length;
          else this.pending.unshift(...batch);
          this.log.warn({ err, readings: batch.length }, 'publish failed');
        } else {
          this.s.published += batch.length;
          this.s.messages++;
        }
        if (this.inflight === 0) this.inflightDrained?.();
      });
    }
  }

  /** Publishes what is pending, waits for its acknowledgements, publishes `offline`, disconnects. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.interval) clearInterval(this.interval);
    if (this.immediate) clearImmediate(this.immediate);
    this.interval = null;
    this.immediate = null;
    const client = this.client;
    if (!client) return;
    const limit = this.o.stopTimeoutMs;
    if (client.connected) {
      this.flush();
      await this.withTimeout(
        this.inflight === 0 ? Promise.resolve() : new Promise<void>((r) => (this.inflightDrained = r)),
        limit,
        'acknowledgements at stop',
      );
      await this.withTimeout(client.publishAsync(this.stateTopic, 'offline', { qos: 1, retain: true }), limit, 'offline state at stop');
    }
    if (this.pending.length > 0) {
      this.s.dropped += this.pending.length;
      this.log.warn({ readings: this.pending.length }, 'stopped while the broker was unreachable: pending readings lost (no spool yet)');
      this.pending = [];
    }
    const ended = await this.withTimeout(client.endAsync(), limit, 'disconnect');
    if (!ended) await client.endAsync(true);
    this.client = null;
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
      this.log.warn({ from, to, reason, url: redactUrl(this.o.mqtt.url) }, 'mqtt connection state changed');
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
