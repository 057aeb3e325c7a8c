/**
 * Room equipment that speaks MQTT itself: temperature/humidity sensors,
 * a transformer temperature monitor, door, water-leak and smoke contacts.
 * Each publishes its own JSON in its own shape — the shapes of common field
 * devices, not gridwatch's contract — so the agent's mapping is exercised:
 *
 *   temp_humidity     {"temperature": 27.31, "humidity": 58.2, "battery": 96, "linkquality": 110}
 *   transformer_temp  {"oil": {"temp": 61.2}, "winding": {"temp": 74.5}, "time": "2026-01-07T04:00:00.000Z"}
 *   door              {"contact": true}              (true: closed, zigbee2mqtt's convention)
 *   water             {"water_leak": false, "battery": 88}
 *   smoke             {"smoke": false, "battery_low": false}
 *
 * Values are a pure function of the seed and the time (plus overrides set by
 * a test or a scenario); publishing is every `intervalMs`, and at once when an
 * override changes a value (a contact that opens does not wait).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { z } from 'zod';
import { SimulatorError } from './errors.ts';

export const SENSOR_KINDS = ['temp_humidity', 'transformer_temp', 'door', 'water', 'smoke'] as const;
export type SensorKind = (typeof SENSOR_KINDS)[number];

export const SensorConfigSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1–64 letters, digits, _ . -'),
  kind: z.enum(SENSOR_KINDS),
  /** default `room/<id>` */
  topic: z.string().min(1).optional(),
  /** publish period, ms */
  intervalMs: z.number().int().min(50).max(3_600_000).default(5000),
  seed: z.number().int().default(1),
  /** room temperature around which the day swings, °C (temp_humidity) */
  baseTemp: z.number().min(-40).max(60).default(26),
  /** oil temperature at no load, °C (transformer_temp) */
  baseOil: z.number().min(-40).max(150).default(45),
});
export type SensorConfig = z.output<typeof SensorConfigSchema>;
export type SensorConfigInput = z.input<typeof SensorConfigSchema>;

export type SensorPayload = Record<string, unknown>;

function hash(seed: number, k: number): number {
  let h = Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(k | 0, 0xc2b2ae3d);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  h ^= h >>> 16;
  return ((h >>> 0) / 4294967295) * 2 - 1;
}
function smooth(seed: number, t: number, periodMs: number): number {
  const x = t / periodMs;
  const k = Math.floor(x);
  const u = x - k;
  const w = u * u * (3 - 2 * u);
  return hash(seed, k) * (1 - w) + hash(seed, k + 1) * w;
}
const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
const DAY = 86_400_000;

/** What a sensor reports at `now` (epoch ms), before overrides. Pure. */
export function sensorPayload(c: SensorConfig, now: number): SensorPayload {
  // local time of day in China (UTC+8): warmest mid-afternoon
  const phase = ((now + 8 * 3_600_000) % DAY) / DAY;
  const daily = Math.sin(2 * Math.PI * (phase - 0.375));
  switch (c.kind) {
    case 'temp_humidity': {
      const temp = c.baseTemp + 3 * daily + 0.6 * smooth(c.seed, now, 120_000);
      return { temperature: round(temp, 2), humidity: round(Math.min(95, Math.max(20, 60 - 8 * daily + 3 * smooth(c.seed + 1, now, 300_000))), 1), battery: 96, linkquality: 110 };
    }
    case 'transformer_temp': {
      const load = 0.55 + 0.3 * daily + 0.05 * smooth(c.seed, now, 600_000);
      const oil = c.baseOil + 25 * load;
      return { oil: { temp: round(oil, 1) }, winding: { temp: round(oil + 12 * load + 2, 1) }, time: new Date(now).toISOString() };
    }
    case 'door':
      return { contact: true };
    case 'water':
      return { water_leak: false, battery: 88 };
    case 'smoke':
      return { smoke: false, battery_low: false };
    default: {
      const never: never = c.kind;
      throw new Error(`unknown sensor kind ${String(never)}`);
    }
  }
}

/**
 * How an agent maps each kind's payload to canonical quantities: the
 * `room.devices[].map` / `ts` of an agent config, as the device's manual would
 * tell its installer.
 */
export function agentMappingFor(kind: SensorKind): { map: Record<string, string | { path: string; invert: boolean }>; ts?: { path: string; format: 'iso' } } {
  switch (kind) {
    case 'temp_humidity':
      return { map: { temp: 'temperature', humidity: 'humidity' } };
    case 'transformer_temp':
      return { map: { t_oil: 'oil.temp', t_winding: 'winding.temp' }, ts: { path: 'time', format: 'iso' } };
    case 'door':
      // contact true = closed; door 1 = open
      return { map: { door: { path: 'contact', invert: true } } };
    case 'water':
      return { map: { water: 'water_leak' } };
    case 'smoke':
      return { map: { smoke: 'smoke' } };
    default: {
      const never: never = kind;
      throw new Error(`unknown sensor kind ${String(never)}`);
    }
  }
}

/** Sets `value` at a dotted path (`oil.temp`) in a copy of `obj`. */
function setPath(obj: SensorPayload, path: string, value: unknown): SensorPayload {
  const keys = path.split('.');
  const out: SensorPayload = { ...obj };
  let cur: Record<string, unknown> = out;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    const next = typeof cur[k] === 'object' && cur[k] !== null ? { ...(cur[k] as Record<string, unknown>) } : {};
    cur[k] = next;
    cur = next;
  }
  cur[keys.at(-1)!] = value;
  return out;
}

export interface RoomSensors {
  /** Overrides fields of a sensor's payload (dotted paths: `oil.temp`), for `durationMs` or until cleared; publishes at once. */
  set(id: string, fields: Record<string, unknown>, durationMs?: number): void;
  clear(id: string): void;
  /** The payload a sensor would publish now. */
  payload(id: string): SensorPayload;
  topicOf(id: string): string;
  stats(): { published: number; connected: boolean };
  stop(): Promise<void>;
}

export interface RoomSensorsOptions {
  mqttUrl: string;
  sensors: readonly SensorConfigInput[];
  clock?: () => number;
  /** default `gridwatch-room-sensors-<pid>` */
  clientId?: string;
}

/** Connects once for all the sensors and starts publishing (QoS 0: sensors like these fire and forget). */
export async function startRoomSensors(opts: RoomSensorsOptions): Promise<RoomSensors> {
  const clock = opts.clock ?? Date.now;
  const configs = new Map<string, SensorConfig>();
  for (const [i, raw] of opts.sensors.entries()) {
    const r = SensorConfigSchema.safeParse(raw);
    if (!r.success) throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `sensors[${i}]: ${r.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    if (configs.has(r.data.id)) throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `sensors[${i}].id: "${r.data.id}" given twice`);
    configs.set(r.data.id, r.data);
  }
  const overrides = new Map<string, { fields: Record<string, unknown>; until?: number }>();
  const client: MqttClient = await mqtt.connectAsync(opts.mqttUrl, {
    clientId: opts.clientId ?? `gridwatch-room-sensors-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    reconnectPeriod: 1000,
  });
  client.on('error', () => undefined); // reconnects by itself; a sensor has nobody to tell
  let published = 0;
  const topicOf = (id: string) => configs.get(id)?.topic ?? `room/${id}`;
  const configOf = (id: string): SensorConfig => {
    const c = configs.get(id);
    if (!c) throw new SimulatorError('GW_ERR_SIM_UNKNOWN_UNIT', `no simulated sensor "${id}"`);
    return c;
  };
  const payload = (id: string): SensorPayload => {
    const c = configOf(id);
    const now = clock();
    let p = sensorPayload(c, now);
    const o = overrides.get(id);
    if (o && o.until !== undefined && o.until <= now) overrides.delete(id);
    else if (o) for (const [k, v] of Object.entries(o.fields)) p = setPath(p, k, v);
    return p;
  };
  const publish = (id: string) => {
    if (!client.connected) return;
    client.publish(topicOf(id), JSON.stringify(payload(id)), { qos: 0 });
    published++;
  };
  const timers: NodeJS.Timeout[] = [];
  let k = 0;
  for (const c of configs.values()) {
    // spread the first messages over the period
    const first = setTimeout(() => {
      publish(c.id);
      timers.push(setInterval(() => publish(c.id), c.intervalMs));
    }, Math.floor((k++ / Math.max(1, configs.size)) * Math.min(c.intervalMs, 1000)));
    timers.push(first);
  }
  const expiry = new Map<string, NodeJS.Timeout>();
  return {
    set(id, fields, durationMs) {
      configOf(id);
      const o: { fields: Record<string, unknown>; until?: number } = { fields: { ...(overrides.get(id)?.fields ?? {}), ...fields } };
      if (durationMs !== undefined) o.until = clock() + durationMs;
      overrides.set(id, o);
      const prev = expiry.get(id);
      if (prev) clearTimeout(prev);
      if (durationMs !== undefined)
        expiry.set(
          id,
          setTimeout(() => {
            overrides.delete(id);
            publish(id);
          }, durationMs),
        );
      publish(id);
    },
    clear(id) {
      overrides.delete(id);
      publish(id);
    },
    payload,
    topicOf,
    stats: () => ({ published, connected: client.connected }),
    async stop() {
      for (const t of timers) clearTimeout(t);
      for (const t of expiry.values()) clearTimeout(t);
      await client.endAsync();
    },
  };
}
