/**
 * Live values to WebSocket clients. Each client gets a snapshot first, then
 * deltas, conflated per device (latest wins) and sent at most `maxFps` times
 * a second. A client whose socket buffer is over the limit skips frames (its
 * values stay conflated, nothing queues up), and one that stays over it for
 * `stallTimeoutMs` is disconnected: a slow browser never holds up the ingest
 * or other clients.
 *
 * One file: the snapshot, the conflation per subscription group, the per-client
 * buffer limits and the alarm frames share one client table and one tick, and
 * are read together when a frame goes missing.
 */
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { StoredReading } from './store/types.ts';
import type { Metrics } from './metrics.ts';
import { isQuantity, type LiveFilter, type LiveReading, type ServerFrame } from '../contract/index.ts';
import { readingTime } from './rules/engine.ts';
import { alarmScopeCovers, handlerScope, narrowAlarmSet } from './scope.ts';

// the live frames are what the browser reads: declared in contract/frames.ts
export type { LiveFilter, LiveReading, ServerFrame };

/** Where an alarm frame is about (its alarm's site and room); null → every client. */
export interface AlarmPlace {
  site: string;
  room: string;
}

/**
 * The sites and rooms a client's alarm frames are narrowed to (its
 * subscription's; both empty: all), and `only`, the stations its user may
 * see (absent: all), which bounds them whatever it subscribed to; null → all.
 */
export type AlarmScope = { sites: readonly string[]; rooms: readonly string[]; only?: readonly string[] } | null;

interface Client {
  socket: WebSocket;
  group: Group;
  /** the stations its user may see; null → all */
  only: readonly string[] | null;
  /** from the client's `subscribe` sites / rooms (devices and quantities narrow readings only) */
  alarmScope: AlarmScope;
  /** seq of the last alarm frame sent on this connection (0: none yet) */
  alarmSeq: number;
  /** skipped a frame: the next frame it gets is a fresh snapshot */
  behind: boolean;
  overSince: number | null;
  /** its socket is corked by `batched` */
  corked: boolean;
}

/** ws keeps its net.Socket in `_socket` (ws 8); corking it holds the frames of a batch for one write. */
function rawSocket(ws: WebSocket): { cork(): void; uncork(): void } | undefined {
  const raw = (ws as unknown as { _socket?: { cork?: unknown; uncork?: unknown } })._socket;
  return raw && typeof raw.cork === 'function' && typeof raw.uncork === 'function' ? (raw as { cork(): void; uncork(): void }) : undefined;
}

/**
 * Clients with the same subscription (filter, quantities, rate) form a group:
 * one pending map, one timer, one serialised frame per tick for all of them.
 */
interface Group {
  key: string;
  filter: LiveFilter | null;
  /** the stations of its clients' user; null → all */
  only: ReadonlySet<string> | null;
  /** quantities to send; null → all */
  quantities: string[] | null;
  fps: number;
  pending: Map<string, LiveReading>;
  clients: Set<Client>;
  timer: NodeJS.Timeout | null;
  lastTick: number;
}

export interface LiveHubOptions {
  maxFps: number;
  maxBufferedBytes: number;
  stallTimeoutMs: number;
}

function matches(f: LiveFilter | null, r: StoredReading, only: ReadonlySet<string> | null = null): boolean {
  if (only && !only.has(r.site)) return false;
  if (!f) return true;
  const any = (f.sites?.length ?? 0) + (f.rooms?.length ?? 0) + (f.devices?.length ?? 0);
  if (any === 0) return true;
  return !!(f.sites?.includes(r.site) || f.rooms?.includes(r.room) || f.devices?.includes(r.device));
}

function project(r: LiveReading, quantities: string[] | null): LiveReading {
  if (!quantities) return r;
  const v: Record<string, number> = {};
  const src = r.v as Record<string, number | undefined>;
  for (const q of quantities) if (src[q] !== undefined) v[q] = src[q]!;
  return { ...r, v };
}

/**
 * Fan-out: changes are conflated per device in each subscription group and
 * flushed on the group's tick, at most `fps` times a second. Each tick
 * serialises one frame per group and sends that same string to every client
 * of it, so the cost grows with readings × groups + clients, not readings ×
 * clients. A client that could not take a frame (socket buffer over the
 * limit) is marked behind and, once it drains, gets a fresh snapshot instead
 * of the deltas it missed; one that stays stalled is disconnected.
 */
export class LiveHub {
  private readonly latestByDevice = new Map<string, LiveReading>();
  /** device → the time its live value counts as (update) */
  private readonly liveAt = new Map<string, number>();
  private readonly clients = new Set<Client>();
  /** depth of `batched` calls, and the clients whose sockets they corked */
  private batchDepth = 0;
  private readonly corkedClients: Client[] = [];
  private readonly groups = new Map<string, Group>();
  private readonly extraHandlers: Array<(msg: Record<string, unknown>, reply: (frame: object) => void, scope: AlarmScope) => boolean> = [];

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

  /** The latest values matching `filter`, of the stations in `only` (null: all). */
  latest(filter: LiveFilter | null = null, only: ReadonlySet<string> | null = null): LiveReading[] {
    return [...this.latestByDevice.values()].filter((r) => matches(filter, r, only));
  }

  /**
   * Applies a reading to the latest values; returns the new live value, or
   * null when it is not newer. "Newer" is by the time the rules give a
   * reading (rules/engine.ts readingTime): its stamp, but at most
   * CLOCK_AHEAD_MS past the moment it arrived. A reading stamped ahead (an
   * agent's clock set wrong) is live for that long only: the real readings
   * after it replace it, instead of waiting until the clock reaches its stamp.
   */
  private update(r: StoredReading): LiveReading | null {
    const prev = this.latestByDevice.get(r.device);
    const at = readingTime(r.ts, this.now());
    if (prev && (this.liveAt.get(r.device) ?? prev.ts) >= at) return null; // backfill and redelivery are not live
    this.liveAt.set(r.device, at);
    let next: LiveReading;
    // a good reading becomes the live value itself (no copy: this is the ingest hot path)
    if (r.q === 'good') next = Object.assign(r, { goodTs: r.ts });
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
    for (const g of this.groups.values()) {
      let any = false;
      for (const r of changed) {
        if ((g.filter || g.only) && !matches(g.filter, r, g.only)) continue;
        g.pending.set(r.device, r);
        any = true;
      }
      if (any) this.schedule(g);
    }
  }

  private groupFor(filter: LiveFilter | null, quantities: string[] | null, fps: number, only: readonly string[] | null): Group {
    const key = JSON.stringify([filter?.sites ?? [], filter?.rooms ?? [], filter?.devices ?? [], quantities, fps, only]);
    let g = this.groups.get(key);
    if (!g) {
      g = { key, filter, only: only && new Set(only), quantities, fps, pending: new Map(), clients: new Set(), timer: null, lastTick: 0 };
      this.groups.set(key, g);
    }
    return g;
  }

  private join(c: Client, g: Group): void {
    if (c.group === g) return;
    this.leave(c);
    c.group = g;
    g.clients.add(c);
  }

  private leave(c: Client): void {
    const g = c.group;
    g.clients.delete(c);
    if (g.clients.size === 0) {
      if (g.timer) clearTimeout(g.timer);
      this.groups.delete(g.key);
    }
  }

  /** A new connection; `sites`: the stations its user may see (null: all), which bound every frame it is sent. */
  addClient(socket: WebSocket, opts: { sites?: readonly string[] | null } = {}): void {
    const only = opts.sites ? [...new Set(opts.sites)].sort() : null;
    const g = this.groupFor(null, null, this.opts.maxFps, only);
    const c: Client = { socket, group: g, only, alarmScope: only ? { sites: [], rooms: [], only } : null, alarmSeq: 0, behind: false, overSince: null, corked: false };
    g.clients.add(c);
    this.clients.add(c);
    this.metrics.wsClients.set(this.clients.size);
    socket.on('message', (data, isBinary) => this.onMessage(c, data.toString(), isBinary));
    socket.on('close', () => this.removeClient(c));
    socket.on('error', () => this.removeClient(c));
    this.sendSnapshot(c);
  }

  private removeClient(c: Client): void {
    if (!this.clients.delete(c)) return;
    this.leave(c);
    this.metrics.wsClients.set(this.clients.size);
  }

  private send(c: Client, frame: ServerFrame | string): void {
    c.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  private sendSnapshot(c: Client): void {
    const q = c.group.quantities;
    this.send(c, { type: 'snapshot', at: this.now(), readings: this.latest(c.group.filter, c.group.only).map((r) => project(r, q)) });
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
      let quantities: string[] | null = null;
      if (m.quantities !== undefined) {
        if (!Array.isArray(m.quantities) || !m.quantities.every((x) => typeof x === 'string' && isQuantity(x)))
          return fail('quantities must be an array of canonical quantity names');
        quantities = [...new Set(m.quantities as string[])].sort();
      }
      let fps = this.opts.maxFps;
      if (m.maxFps !== undefined) {
        if (typeof m.maxFps !== 'number' || !(m.maxFps > 0)) return fail('maxFps must be a positive number');
        fps = Math.min(this.opts.maxFps, m.maxFps);
      }
      const unknown = Object.keys(m).filter((k) => !['type', 'sites', 'rooms', 'devices', 'quantities', 'maxFps'].includes(k));
      if (unknown.length) return fail(`unknown keys: ${unknown.join(', ')}`);
      const empty = !filter.sites?.length && !filter.rooms?.length && !filter.devices?.length;
      this.join(c, this.groupFor(empty ? null : filter, quantities, fps, c.only));
      const narrowed = !!(filter.sites?.length || filter.rooms?.length);
      c.alarmScope = narrowed || c.only ? { sites: filter.sites ?? [], rooms: filter.rooms ?? [], ...(c.only ? { only: c.only } : {}) } : null;
      c.behind = false;
      this.sendSnapshot(c);
      return;
    }
    // heartbeat: lets a browser tell a quiet server from a dead half-open connection
    if (m.type === 'ping') return this.send(c, { type: 'pong', at: this.now() });
    const only = c.only;
    const exact = !c.alarmScope?.rooms.length;
    const reply = (frame: object) => c.socket.send(JSON.stringify(only ? narrowAlarmSet(frame, only, exact) : frame));
    for (const h of this.extraHandlers) if (h(m, reply, handlerScope(c.alarmScope))) return;
    fail(`unknown message type ${JSON.stringify(m.type)}`);
  }

  private schedule(g: Group): void {
    if (g.timer || g.clients.size === 0) return;
    const wait = Math.max(0, g.lastTick + 1000 / g.fps - this.now());
    g.timer = setTimeout(() => {
      g.timer = null;
      this.tick(g);
    }, wait);
  }

  private tick(g: Group): void {
    g.lastTick = this.now();
    let behind = false;
    for (const c of g.clients) behind ||= c.behind;
    if (g.pending.size === 0 && !behind) return;
    const at = this.now();
    const readings = [...g.pending.values()].map((r) => project(r, g.quantities));
    // a new map, not clear(): V8 links a cleared table to its successor and, once the table is in the old
    // generation (after any mark-compact), allocates every successor there too, so each tick's readings were
    // held from the old generation and promoted with it (8 MB/s in the alarm bench, and scavenge pauses of
    // 10-25 ms instead of 4-8 on the loop that delivers alarms)
    g.pending = new Map();
    const frame = readings.length ? JSON.stringify({ type: 'readings', at, readings } satisfies ServerFrame) : null;
    let stillBehind = false;
    for (const c of [...g.clients]) {
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
        } else stillBehind = true;
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
    if (stillBehind) this.schedule(g);
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
      if (this.droppedAsTooSlow(c)) continue;
      c.socket.send(text);
    }
  }

  /**
   * An alarm frame (`{ seq, … }`, seq global and gapless) to every client
   * whose subscription covers `place` (its sites or rooms; a client that
   * named neither gets all), never conflated or skipped; too slow a client
   * is disconnected as in `broadcast`. Each copy carries `prevSeq`: the seq
   * of the alarm frame this connection was sent before it (0: none). A
   * narrowed client sees seq jump over other sites' frames; it has missed
   * nothing while `prevSeq` ≤ the last seq it applied, and has missed
   * frames when `prevSeq` is larger (then it asks for the set again).
   * Unfiltered, `prevSeq` is `seq - 1`. With `resync` (cluster mode: a
   * frame another server made may arrive after a larger seq went out here),
   * a client already sent a seq at or above the frame's gets `resync(scope)`
   * instead, the whole set, which its store takes as it is.
   */
  pushAlarm(frame: { seq: number }, place: AlarmPlace | null, resync?: (scope: AlarmScope) => { seq: number }): void {
    const text = JSON.stringify(frame);
    const head = `${text.slice(0, -1)},"prevSeq":`;
    for (const c of [...this.clients]) {
      if (place && !alarmScopeCovers(c.alarmScope, place)) continue;
      if (this.droppedAsTooSlow(c)) continue;
      if (resync && frame.seq <= c.alarmSeq) {
        // cluster mode: another server's frame arrived after a larger seq went out here; the client takes the whole set
        const set = resync(handlerScope(c.alarmScope));
        c.socket.send(JSON.stringify(set));
        c.alarmSeq = Math.max(c.alarmSeq, set.seq);
        continue;
      }
      if (this.batchDepth > 0 && !c.corked) {
        const raw = rawSocket(c.socket);
        if (raw) {
          raw.cork();
          c.corked = true;
          this.corkedClients.push(c);
        }
      }
      c.socket.send(`${head}${c.alarmSeq}}`);
      c.alarmSeq = frame.seq;
    }
  }

  /**
   * Runs `fn`; the alarm frames it pushes wait in each client's socket until
   * it returns and then leave in one write per client. The transitions of one
   * message (a raise and a clear; a transformer outage suppressing dozens of
   * meters) cost one system call per client instead of one each, on the
   * event loop that delivers them. Nothing is held past `fn`.
   */
  batched<T>(fn: () => T): T {
    this.batchDepth++;
    try {
      return fn();
    } finally {
      if (--this.batchDepth === 0) {
        for (const c of this.corkedClients) {
          c.corked = false;
          rawSocket(c.socket)?.uncork();
        }
        this.corkedClients.length = 0;
      }
    }
  }

  /** A client too far behind to take an alarm frame is disconnected (it resyncs on reconnect) rather than silently miss it. */
  private droppedAsTooSlow(c: Client): boolean {
    if (c.socket.bufferedAmount <= this.opts.maxBufferedBytes * 4) return false;
    this.log.warn({ bufferedBytes: c.socket.bufferedAmount }, 'websocket client cannot take an alarm frame, disconnecting');
    this.metrics.wsDisconnectedSlow.inc();
    c.socket.terminate();
    this.removeClient(c);
    return true;
  }

  /** Called with each client's parsed messages of a type the hub does not know (e.g. alarm resume requests), with the client's alarm scope. */
  onClientMessage(fn: (msg: Record<string, unknown>, reply: (frame: object) => void, scope: AlarmScope) => boolean): void {
    this.extraHandlers.push(fn);
  }

  closeAll(): void {
    for (const g of this.groups.values()) if (g.timer) clearTimeout(g.timer);
    for (const c of [...this.clients]) {
      c.socket.close(1001, 'server stopping');
      this.removeClient(c);
    }
  }
}
