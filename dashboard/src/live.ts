/**
 * The live feed: one WebSocket to /ws, the latest reading of each device,
 * reconnect with capped backoff, and a fresh snapshot (resync) on every
 * (re)connect or filter change. Views listen; they never open sockets.
 */
import type { ClientFrame, LiveSubscription } from '../../contract/frames.ts';
import type { LiveReading, ServerFrame } from './model.ts';

export type ConnState = 'connecting' | 'open' | 'closed';

/** sites, rooms, devices and quantities to receive (contract/frames.ts); absent = all */
export type LiveFilter = Omit<LiveSubscription, 'maxFps'>;

/** `snapshot` = the map was replaced (resync); otherwise `readings` are deltas. */
export type ReadingsListener = (readings: readonly LiveReading[], snapshot: boolean) => void;
export type StateListener = (state: ConnState) => void;

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5_000;
/** intervals longer than this are not a device's poll interval but an outage of it */
const MAX_INTERVAL_MS = 15 * 60_000;

const HEARTBEAT_EVERY_MS = 15_000;
const HEARTBEAT_DEAD_MS = 40_000;

const send = (ws: WebSocket, frame: ClientFrame): void => ws.send(JSON.stringify(frame));

export class Live {
  readonly latest = new Map<string, LiveReading>();
  /** smoothed interval between a device's readings, ms (for its stale limit) */
  private readonly intervals = new Map<string, number>();
  private readonly readingListeners = new Set<ReadingsListener>();
  private readonly stateListeners = new Set<StateListener>();
  private ws: WebSocket | null = null;
  private filter: LiveFilter | null = null;
  private retry = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  /**
   * Heartbeat: a quiet server and a dead half-open connection look alike, so
   * the page pings; no pong for HEARTBEAT_DEAD_MS while open → reconnect.
   */
  private lastPong = 0;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  /** server clock − page clock, ms, estimated from each frame's `at` */
  private offset = 0;
  state: ConnState = 'closed';
  /** snapshots received: each one is a resync */
  snapshots = 0;
  /** when the connection was last lost (page clock), null while open */
  lostAt: number | null = null;
  /** the last snapshot came after a lost connection (not a first connect or a filter change) */
  resynced = false;

  /** frames the live feed does not handle itself (alarms), and each (re)connect */
  onOther: ((frame: { type: string } & Record<string, unknown>) => void) | null = null;
  onOpen: ((send: (frame: ClientFrame) => void) => void) | null = null;

  constructor(private readonly sessionLost: () => void) {}

  /** The server's clock, as far as the page can tell (ages are measured on it). */
  now(): number {
    return Date.now() + this.offset;
  }

  intervalOf(device: string): number | undefined {
    return this.intervals.get(device);
  }

  get connected(): boolean {
    return this.state === 'open';
  }

  onReadings(fn: ReadingsListener): () => void {
    this.readingListeners.add(fn);
    return () => this.readingListeners.delete(fn);
  }

  onState(fn: StateListener): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    addEventListener('online', this.kick);
    this.setState('connecting');
    this.connect();
  }

  stop(): void {
    this.running = false;
    removeEventListener('online', this.kick);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000);
    this.setState('closed');
  }

  /** Narrows the feed (null = everything); the server answers with a fresh snapshot. */
  setFilter(filter: LiveFilter | null): void {
    this.filter = filter;
    if (this.ws?.readyState === WebSocket.OPEN) this.sendFilter(this.ws);
  }

  private sendFilter(ws: WebSocket): void {
    send(ws, { type: 'subscribe', ...(this.filter ?? {}) });
  }

  /** the browser says the network is back: retry now instead of waiting out the backoff */
  private readonly kick = (): void => {
    if (this.running && this.state === 'closed' && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.connect();
    }
  };

  private setState(s: ConnState): void {
    if (s === this.state) return;
    if (s !== 'open' && this.state === 'open') this.lostAt = Date.now();
    if (s === 'open') this.lostAt = null;
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }

  private connect(): void {
    if (!this.running) return;
    // "closed" is kept through reconnect attempts: until a snapshot is in, nothing shown is live
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${location.pathname.replace(/[^/]*$/, '')}ws`);
    this.ws = ws;
    ws.onopen = () => {
      if (this.filter) this.sendFilter(ws);
      this.onOpen?.((f) => {
        if (ws === this.ws && ws.readyState === WebSocket.OPEN) send(ws, f);
      });
      this.lastPong = Date.now();
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = setInterval(() => {
        if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
        if (Date.now() - this.lastPong > HEARTBEAT_DEAD_MS) ws.close();
        else send(ws, { type: 'ping' });
      }, HEARTBEAT_EVERY_MS);
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame;
      } catch {
        return;
      }
      this.onFrame(frame);
    };
    ws.onclose = () => {
      if (ws !== this.ws) return;
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = null;
      this.ws = null;
      this.setState('closed');
      void this.afterClose();
    };
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'snapshot': {
        this.estimateOffset(frame.at);
        this.retry = 0;
        this.resynced = this.state === 'closed';
        this.latest.clear();
        for (const r of frame.readings) this.latest.set(r.device, r);
        this.snapshots++;
        // open only once the snapshot is in: until then the page has nothing current to show
        this.setState('open');
        for (const fn of this.readingListeners) fn(frame.readings, true);
        return;
      }
      case 'readings': {
        this.estimateOffset(frame.at);
        const fresh: LiveReading[] = [];
        for (const r of frame.readings) {
          const prev = this.latest.get(r.device);
          if (prev && prev.ts >= r.ts) continue;
          if (prev) {
            const gap = r.ts - prev.ts;
            if (gap > 0 && gap < MAX_INTERVAL_MS) {
              const old = this.intervals.get(r.device);
              this.intervals.set(r.device, old === undefined ? gap : 0.8 * old + 0.2 * gap);
            }
          }
          this.latest.set(r.device, r);
          fresh.push(r);
        }
        if (fresh.length) for (const fn of this.readingListeners) fn(fresh, false);
        return;
      }
      case 'error':
        console.warn('gridwatch live feed:', frame.code, frame.message);
        return;
      case 'pong':
        this.lastPong = Date.now();
        return;
      default:
        this.onOther?.(frame as unknown as { type: string } & Record<string, unknown>);
    }
  }

  /** The frame's `at` is the server's clock when it sent; the smallest lag seen is the best estimate. */
  private estimateOffset(at: number): void {
    const sample = at - Date.now();
    // frames arrive after they were stamped, so a sample is the offset minus the delivery lag:
    // follow larger samples at once and drift down slowly (a clock step back is rare)
    this.offset = this.snapshots === 0 || sample > this.offset ? sample : this.offset + (sample - this.offset) * 0.05;
  }

  private async afterClose(): Promise<void> {
    // a refused upgrade looks like a close: ask whether the session is still good
    const me = await fetch('./api/me', { cache: 'no-store' }).catch(() => null);
    if (me?.status === 401) {
      // stopped meanwhile (the user logged out, which also ends this connection): nothing was lost
      if (!this.running) return;
      this.running = false;
      this.sessionLost();
      return;
    }
    if (!this.running) return;
    // capped exponential backoff with jitter, so a restarted server is not hit by every page at once
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.retry++) * (0.5 + Math.random() / 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }
}
