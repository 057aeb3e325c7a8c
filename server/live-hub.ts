/**
 * Live values to WebSocket clients. Each client gets a snapshot first, then
 * deltas, conflated per device (latest wins) and sent at most `maxFps` times
 * a second. A client whose socket buffer is over the limit skips frames (its
 * values stay conflated, nothing queues up), and one that stays over it for
 * `stallTimeoutMs` is disconnected: a slow browser never holds up the ingest
 * or other clients.
 */
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { StoredReading } from './store/types.ts';
import type { Metrics } from './metrics.ts';

/** A live value as pushed: the reading plus, for a device that lost contact, when it last read good. */
export interface LiveReading extends StoredReading {
  /** epoch ms of the last good reading; equals ts while the device is good */
  goodTs: number | null;
}

export interface LiveFilter {
  sites?: string[];
  rooms?: string[];
  devices?: string[];
}

export type ServerFrame =
  | { type: 'snapshot'; at: number; readings: LiveReading[] }
  | { type: 'readings'; at: number; readings: LiveReading[] }
  | { type: 'error'; code: string; message: string };

interface Client {
  socket: WebSocket;
  filter: LiveFilter | null;
  pending: Map<string, LiveReading>;
  timer: NodeJS.Timeout | null;
  lastSent: number;
  overSince: number | null;
}

export interface LiveHubOptions {
  maxFps: number;
  maxBufferedBytes: number;
  stallTimeoutMs: number;
}

function matches(f: LiveFilter | null, r: StoredReading): boolean {
  if (!f) return true;
  const any = (f.sites?.length ?? 0) + (f.rooms?.length ?? 0) + (f.devices?.length ?? 0);
  if (any === 0) return true;
  return !!(f.sites?.includes(r.site) || f.rooms?.includes(r.room) || f.devices?.includes(r.device));
}

export class LiveHub {
  private readonly latestByDevice = new Map<string, LiveReading>();
  private readonly clients = new Set<Client>();

  constructor(
    private readonly opts: LiveHubOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seeds the latest values (at start, from the store). */
  seed(readings: readonly StoredReading[]): void {
    for (const r of readings) this.update(r);
  }

  latest(filter: LiveFilter | null = null): LiveReading[] {
    return [...this.latestByDevice.values()].filter((r) => matches(filter, r));
  }

  /** Applies a reading to the latest values; returns the new live value, or null when it is not newer. */
  private update(r: StoredReading): LiveReading | null {
    const prev = this.latestByDevice.get(r.device);
    if (prev && prev.ts >= r.ts) return null; // backfill and redelivery are not live
    let next: LiveReading;
    if (r.q === 'good') next = { ...r, goodTs: r.ts };
    else if (prev) next = { ...r, v: Object.keys(r.v).length ? r.v : prev.v, goodTs: prev.goodTs };
    else next = { ...r, goodTs: null };
    this.latestByDevice.set(r.device, next);
    return next;
  }

  publish(readings: readonly StoredReading[]): void {
    const changed: LiveReading[] = [];
    for (const r of readings) {
      const live = this.update(r);
      if (live) changed.push(live);
    }
    if (changed.length === 0) return;
    for (const c of this.clients) {
      let any = false;
      for (const r of changed) {
        if (!matches(c.filter, r)) continue;
        c.pending.set(r.device, r);
        any = true;
      }
      if (any) this.schedule(c);
    }
  }

  addClient(socket: WebSocket): void {
    const c: Client = { socket, filter: null, pending: new Map(), timer: null, lastSent: 0, overSince: null };
    this.clients.add(c);
    this.metrics.wsClients.set(this.clients.size);
    socket.on('message', (data, isBinary) => this.onMessage(c, data.toString(), isBinary));
    socket.on('close', () => this.removeClient(c));
    socket.on('error', () => this.removeClient(c));
    this.sendSnapshot(c);
  }

  private removeClient(c: Client): void {
    if (!this.clients.delete(c)) return;
    if (c.timer) clearTimeout(c.timer);
    c.pending.clear();
    this.metrics.wsClients.set(this.clients.size);
  }

  private send(c: Client, frame: ServerFrame): void {
    c.socket.send(JSON.stringify(frame));
  }

  private sendSnapshot(c: Client): void {
    c.pending.clear();
    this.send(c, { type: 'snapshot', at: this.now(), readings: this.latest(c.filter) });
    c.lastSent = this.now();
  }

  private onMessage(c: Client, text: string, isBinary: boolean): void {
    const fail = (message: string) => this.send(c, { type: 'error', code: 'GW_ERR_WS_BAD_MESSAGE', message });
    if (isBinary) return fail('binary frames are not accepted');
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return fail('message is not JSON');
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return fail('message must be an object');
    const m = msg as Record<string, unknown>;
    if (m.type === 'subscribe') {
      const filter: LiveFilter = {};
      for (const key of ['sites', 'rooms', 'devices'] as const) {
        const v = m[key];
        if (v === undefined) continue;
        if (!Array.isArray(v) || v.length > 10_000 || !v.every((x) => typeof x === 'string' && x.length <= 256))
          return fail(`${key} must be an array of strings`);
        filter[key] = v as string[];
      }
      const unknown = Object.keys(m).filter((k) => !['type', 'sites', 'rooms', 'devices'].includes(k));
      if (unknown.length) return fail(`unknown keys: ${unknown.join(', ')}`);
      c.filter = filter;
      this.sendSnapshot(c);
      return;
    }
    if (m.type === 'ping') return;
    fail(`unknown message type ${JSON.stringify(m.type)}`);
  }

  private schedule(c: Client): void {
    if (c.timer) return;
    const interval = 1000 / this.opts.maxFps;
    const wait = Math.max(0, c.lastSent + interval - this.now());
    c.timer = setTimeout(() => {
      c.timer = null;
      this.flush(c);
    }, wait);
  }

  private flush(c: Client): void {
    if (!this.clients.has(c) || c.pending.size === 0) return;
    if (c.socket.bufferedAmount > this.opts.maxBufferedBytes) {
      this.metrics.wsDroppedFrames.inc();
      const t = this.now();
      c.overSince ??= t;
      if (t - c.overSince > this.opts.stallTimeoutMs) {
        this.log.warn({ bufferedBytes: c.socket.bufferedAmount }, 'websocket client too slow, disconnecting');
        this.metrics.wsDisconnectedSlow.inc();
        c.socket.terminate();
        this.removeClient(c);
        return;
      }
      c.lastSent = t; // try again one interval later, values stay conflated
      this.schedule(c);
      return;
    }
    c.overSince = null;
    const readings = [...c.pending.values()];
    c.pending.clear();
    this.send(c, { type: 'readings', at: this.now(), readings });
    c.lastSent = this.now();
  }

  closeAll(): void {
    for (const c of [...this.clients]) {
      c.socket.close(1001, 'server stopping');
      this.removeClient(c);
    }
  }
}
