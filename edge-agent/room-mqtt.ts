/**
 * Room equipment that publishes its own JSON over MQTT (temperature and
 * humidity sensors, transformer temperature monitors, door / water / smoke
 * contacts): subscribes to each device's topic, maps its payload to
 * canonical quantities (room-map.ts) and emits readings into the same spool
 * and uplink as the meters.
 *
 * Quality, as for a meter: a device heard from is `good`; a device silent for
 * `staleAfterMs` gets a `comm_loss` reading (no values — a silent sensor is
 * not a zero), again every `staleAfterMs` while it stays silent. Payloads that
 * cannot be used are counted per device and kind, logged once per kind until
 * the device is good again, and never crash anything. State changes are
 * logged as `{ from, to, reason }`.
 *
 * The timestamp is the device's own when the mapping names one and it is
 * readable; otherwise the arrival time (the explicit policy of CONVENTIONS §8).
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from './log.ts';
import type { DeviceState, DeviceTransition, UnsequencedReading } from './poller.ts';
import { mapPayload, type MapProblem, type PayloadMapping } from './room-map.ts';

export interface RoomDevice extends PayloadMapping {
  id: string;
  topic: string;
  staleAfterMs: number;
}

export interface RoomMqttOptions {
  url: string;
  username?: string;
  password?: string;
  clientId: string;
}

export interface RoomDeviceStats {
  state: DeviceState;
  messages: number;
  readings: number;
  commLoss: number;
  /** unusable payloads or fields, by kind */
  problems: Partial<Record<MapProblem | 'not_json' | 'too_large', number>>;
}

const MAX_PAYLOAD = 64 * 1024;

interface DeviceRuntime {
  d: RoomDevice;
  log: Logger;
  state: DeviceState;
  lastHeard: number;
  lastLossEmit: number;
  reported: Set<string>;
  s: Omit<RoomDeviceStats, 'state'>;
}

export class RoomMqttSource {
  private readonly byTopic = new Map<string, DeviceRuntime[]>();
  private readonly all: DeviceRuntime[] = [];
  private client: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private lastError = '';

  /** Does no I/O. */
  constructor(
    private readonly o: {
      devices: readonly RoomDevice[];
      mqtt: RoomMqttOptions;
      clock: () => number;
      log: Logger;
      emit: (r: UnsequencedReading) => void;
    },
  ) {
    for (const d of o.devices) {
      const rt: DeviceRuntime = {
        d,
        log: o.log.child({ deviceId: d.id }),
        state: 'unknown',
        lastHeard: 0,
        lastLossEmit: 0,
        reported: new Set(),
        s: { messages: 0, readings: 0, commLoss: 0, problems: {} },
      };
      this.all.push(rt);
      const list = this.byTopic.get(d.topic) ?? [];
      list.push(rt);
      this.byTopic.set(d.topic, list);
    }
  }

  stats(): Record<string, RoomDeviceStats> {
    return Object.fromEntries(this.all.map((rt) => [rt.d.id, { state: rt.state, ...rt.s, problems: { ...rt.s.problems } }]));
  }

  /** Connects in the background (mqtt.js reconnects and resubscribes by itself) and starts the staleness check. */
  start(): void {
    const m = this.o.mqtt;
    this.startedAt = this.o.clock();
    const client = mqtt.connect(m.url, {
      clientId: m.clientId,
      ...(m.username !== undefined ? { username: m.username } : {}),
      ...(m.password !== undefined ? { password: m.password } : {}),
      reconnectPeriod: 2000,
      // no cache of 65,536 pre-made 2-byte Buffers (6 MB of heap) for packet lengths and ids
      writeCache: false,
      clean: true,
    });
    this.client = client;
    client.on('connect', () => {
      client.subscribe(Object.fromEntries([...this.byTopic.keys()].map((t) => [t, { qos: 1 as const }])), (err) => {
        if (err) this.o.log.warn({ err }, 'room equipment: subscribe failed');
      });
      this.lastError = '';
    });
    client.on('error', (err) => {
      if (err.message !== this.lastError) this.o.log.warn({ err }, 'room equipment: mqtt error');
      this.lastError = err.message;
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    this.timer = setInterval(() => this.checkStale(), 1000);
  }

  private count(rt: DeviceRuntime, kind: keyof RoomDeviceStats['problems'], detail?: string): void {
    rt.s.problems[kind] = (rt.s.problems[kind] ?? 0) + 1;
    if (rt.reported.has(kind)) return;
    rt.reported.add(kind);
    rt.log.warn({ problem: kind, detail }, 'room equipment payload not usable (reported once per kind until the device is good again)');
  }

  private onMessage(topic: string, payload: Buffer): void {
    const targets = this.byTopic.get(topic);
    if (!targets) return;
    const now = this.o.clock();
    let doc: unknown;
    let parseProblem: 'not_json' | 'too_large' | undefined;
    if (payload.length > MAX_PAYLOAD) parseProblem = 'too_large';
    else
      try {
        doc = JSON.parse(payload.toString('utf8'));
      } catch {
        parseProblem = 'not_json';
      }
    for (const rt of targets) {
      rt.s.messages++;
      if (parseProblem) {
        this.count(rt, parseProblem);
        continue;
      }
      const r = mapPayload(doc, rt.d);
      for (const p of r.problems) this.count(rt, p.problem, p.detail);
      if (Object.keys(r.v).length === 0) continue;
      rt.lastHeard = now;
      rt.s.readings++;
      this.o.emit({ device: rt.d.id, ts: r.ts ?? Math.floor(now), v: r.v, q: 'good' });
      this.transition(rt, 'good', 'message received', now);
    }
  }

  private checkStale(): void {
    const now = this.o.clock();
    for (const rt of this.all) {
      const since = rt.lastHeard || this.startedAt;
      if (now - since < rt.d.staleAfterMs) continue;
      if (rt.state === 'comm_loss' && now - rt.lastLossEmit < rt.d.staleAfterMs) continue;
      rt.lastLossEmit = now;
      rt.s.commLoss++;
      this.o.emit({ device: rt.d.id, ts: Math.floor(now), v: {}, q: 'comm_loss' });
      this.transition(rt, 'comm_loss', `nothing heard on ${rt.d.topic} for ${rt.d.staleAfterMs} ms`, now);
    }
  }

  private transition(rt: DeviceRuntime, to: DeviceState, reason: string, at: number): void {
    if (rt.state === to) return;
    const t: DeviceTransition = { from: rt.state, to, reason, at };
    rt.state = to;
    switch (to) {
      case 'good':
        rt.reported.clear();
        rt.log.info(t, 'device state changed');
        break;
      case 'comm_loss':
        rt.log.warn(t, 'device state changed');
        break;
      case 'unknown':
        break;
      default: {
        const never: never = to;
        throw new Error(`unknown device state ${String(never)}`);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const c = this.client;
    this.client = null;
    if (c) await c.endAsync(true);
  }
}
