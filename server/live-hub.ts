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
  /** clients with the same filter share one serialised frame per tick */
  groupKey: string;
  /** skipped a frame: the next frame it gets is a fresh snapshot */
  behind: boolean;
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

/**
 * Fan-out: changes are conflated per device into one global pending map and
 * flushed on a tick at most `maxFps` times a second. Each tick serialises one
 * frame per distinct filter and sends that same string to every client of the
 * filter, so the cost grows with readings + clients, not readings × clients.
 * A client that could not take a frame (socket buffer over the limit) is
 * marked behind and, once it drains, gets a fresh snapshot instead of the
 * deltas it missed: per-client conflation without per-client queues.
 */
export class LiveHub {
  private readonly latestByDevice = new Map<string, LiveReading>();
  private readonly clients = new Set<Client>();
  private readonly pending = new Map<string, LiveReading>();
  private timer: NodeJS.Timeout | null = null;
  private lastTick = 0;
  private readonly extraHandlers: Array<(msg: Record<string, unknown>, reply: (frame: object) => void) => boolean> = [];

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
    // a good reading becomes the live value itself (no copy: this is the ingest hot path)
    if (r.q === 'good') next = Object.assign(r, { goodTs: r.ts });
    else if (prev) next = { ...r, v: Object.keys(r.v).length ? r.v : prev.v, goodTs: prev.goodTs };
    else next = { ...r, goodTs: null };
    this.latestByDevice.set(r.device, next);
    return next;
  }

  publish(readings: readonly StoredReading[]): void {
    let any = false;
    for (const r of readings) {
      const live = this.update(r);
      if (!live) continue;
      this.pending.set(r.device, live);
      any = true;
    }
    if (any && this.clients.size > 0) this.schedule();
    else if (this.clients.size === 0) this.pending.clear();
  }

  addClient(socket: WebSocket): void {
    const c: Client = { socket, filter: null, groupKey: '*', behind: false, overSince: null };
    this.clients.add(c);
    this.metrics.wsClients.set(this.clients.size);
    socket.on('message', (data, isBinary) => this.onMessage(c, data.toString(), isBinary));
    socket.on('close', () => this.removeClient(c));
    socket.on('error', () => this.removeClient(c));
    this.sendSnapshot(c);
  }

  private removeClient(c: Client): void {
    if (!this.clients.delete(c)) return;
    this.metrics.wsClients.set(this.clients.size);
  }

  private send(c: Client, frame: ServerFrame | string): void {
    c.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  private sendSnapshot(c: Client): void {
    this.send(c, { type: 'snapshot', at: this.now(), readings: this.latest(c.filter) });
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
        filter[key] = [...new Set(v as string[])].sort();
      }
      const unknown = Object.keys(m).filter((k) => !['type', 'sites', 'rooms', 'devices'].includes(k));
      if (unknown.length) return fail(`unknown keys: ${unknown.join(', ')}`);
      const empty = !filter.sites?.length && !filter.rooms?.length && !filter.devices?.length;
      c.filter = empty ? null : filter;
      c.groupKey = empty ? '*' : JSON.stringify([filter.sites ?? [], filter.rooms ?? [], filter.devices ?? []]);
      this.sendSnapshot(c);
      return;
    }
    if (m.type === 'ping') return;
    for (const h of this.extraHandlers) if (h(m, (frame) => c.socket.send(JSON.stringify(frame)))) return;
    fail(`unknown message type ${JSON.stringify(m.type)}`);
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastTick + 1000 / this.opts.maxFps - this.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick();
    }, wait);
  }

  private tick(): void {
    this.lastTick = this.now();
    if (this.pending.size === 0 && ![...this.clients].some((c) => c.behind)) return;
    const changed = [...this.pending.values()];
    this.pending.clear();
    const frames = new Map<string, string | null>();
    const at = this.now();
    for (const c of [...this.clients]) {
      let frame = frames.get(c.groupKey);
      if (frame === undefined) {
        const readings = c.filter ? changed.filter((r) => matches(c.filter, r)) : changed;
        frame = readings.length ? JSON.stringify({ type: 'readings', at, readings } satisfies ServerFrame) : null;
        frames.set(c.groupKey, frame);
      }
      if (frame === null && !c.behind) continue;
      if (c.socket.bufferedAmount > this.opts.maxBufferedBytes) {
        this.metrics.wsDroppedFrames.inc();
        c.behind = true;
        c.overSince ??= at;
        if (at - c.overSince > this.opts.stallTimeoutMs) {
          this.log.warn({ bufferedBytes: c.socket.bufferedAmount }, 'websocket client too slow, disconnecting');
          this.metrics.wsDisconnectedSlow.inc();
          c.socket.terminate();
          this.removeClient(c);
        }
        continue;
      }
      c.overSince = null;
      if (c.behind) {
        c.behind = false;
        this.sendSnapshot(c);
      } else if (frame !== null) {
        this.send(c, frame);
      }
    }
    // a client that is behind keeps the tick going so it gets its snapshot once drained
    if ([...this.clients].some((c) => c.behind)) this.schedule();
  }

  /**
   * Sends a frame to every client at once, never conflated or skipped (alarm
   * transitions: each carries its own sequence number and a client that
   * missed one resyncs from the REST API). A client too slow to take it is
   * disconnected rather than silently missing an alarm.
   */
  broadcast(frame: object): void {
    const text = JSON.stringify(frame);
    for (const c of [...this.clients]) {
      if (c.socket.bufferedAmount > this.opts.maxBufferedBytes * 4) {
        this.log.warn({ bufferedBytes: c.socket.bufferedAmount }, 'websocket client cannot take an alarm frame, disconnecting');
        this.metrics.wsDisconnectedSlow.inc();
        c.socket.terminate();
        this.removeClient(c);
        continue;
      }
      c.socket.send(text);
    }
  }

  /** Called with each client's parsed messages of a type the hub does not know (e.g. alarm resume requests). */
  onClientMessage(fn: (msg: Record<string, unknown>, reply: (frame: object) => void) => boolean): void {
    this.extraHandlers.push(fn);
  }

  closeAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const c of [...this.clients]) {
      c.socket.close(1001, 'server stopping');
      this.removeClient(c);
    }
  }
}
