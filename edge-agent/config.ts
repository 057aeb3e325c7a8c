/**
 * Edge-agent configuration: one schema, defaults in the
 * schema, unknown keys rejected, every problem reported at once with its
 * path, the type derived from the schema, the result frozen and passed in.
 */
import { z } from 'zod';
import { LIMITS, MEASURED_QUANTITIES, TOPIC_ID_PATTERN, type Quantity } from '../contract/index.ts';
import { ConfigError } from './errors.ts';
import { deepFreeze, type DeepReadonly } from './freeze.ts';
import { formatIssues } from './issues.ts';
import { BUILTIN_PROFILES, type ProfileRegistry } from './profiles/index.ts';
import { FSYNC_POLICIES } from './spool/index.ts';
import { PARITIES } from './modbus-client.ts';
import { Dlt645ConfigSchema, dlt645CrossCheck } from './dlt645/config.ts';
import { BUILTIN_DLT645_PROFILES, type Dlt645ProfileRegistry } from './dlt645/profile.ts';

/** agent and site ids are MQTT topic levels ([MQTT-4.7.1-1]: no `/`, `+`, `#`) */
const topicId = z.string().regex(TOPIC_ID_PATTERN, 'must be 1–64 letters, digits, _ . - starting with a letter or digit');

/** silence between the end of one exchange and the next request on the same line, ms (slow gateways and converters want some) */
const frameGapMs = z.number().int().min(0).max(10_000);

/** Modbus TCP, directly to a meter or to an RS-485 gateway serving many unit ids on one host:port. */
export const TcpTransportSchema = z.strictObject({
  kind: z.literal('tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  frameGapMs: frameGapMs.default(0),
});

/**
 * Modbus RTU on a serial line (an RS-485 adapter); every device naming the
 * same path shares the line. Defaults are 9600 8N1, what DTSU666, ADW300 and
 * most meters in the field ship with (the serial-line spec's own default is
 * even parity: Modbus over Serial Line v1.02 §2.5.1).
 */
export const RtuTransportSchema = z.strictObject({
  kind: z.literal('rtu'),
  path: z.string().min(1),
  baudRate: z.number().int().min(300).max(921_600).default(9600),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  parity: z.enum(PARITIES).default('none'),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  /** default: 3.5 character times (§2.5.1.1), at least 2 ms */
  frameGapMs: frameGapMs.optional(),
});

export const TransportSchema = z.discriminatedUnion('kind', [TcpTransportSchema, RtuTransportSchema]);

export const DeviceConfigSchema = z.strictObject({
  /** device id as in the topology; travels in every reading */
  id: z.string().min(1).max(LIMITS.maxDeviceIdLength),
  /** id of a device profile (register map) in the profile registry, e.g. `dtsu666` */
  profile: z.string().min(1),
  transport: TransportSchema,
  /** Modbus unit id (slave address) 1..247 */
  unitId: z.number().int().min(1).max(247),
  /** time between polls, ms */
  intervalMs: z.number().int().min(100).max(86_400_000).default(1000),
  /** how long one request waits for the unit's answer, ms */
  timeoutMs: z.number().int().min(10).max(60_000).default(1000),
  /**
   * While the device is in comm_loss its polls back off (interval × 2ⁿ) up to
   * this, ms, so a dead meter does not hold a shared gateway's line for a
   * timeout on every cycle.
   */
  backoffMaxMs: z.number().int().min(0).max(3_600_000).default(10_000),
});

export const MqttConfigSchema = z.strictObject({
  url: z.url({ protocol: /^(mqtts?|wss?)$/, error: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' }),
  username: z.string().optional(),
  password: z.string().optional(),
  /** default `gridwatch-agent-<agent>`: a second process with the same agent id takes the session over */
  clientId: z.string().min(1).max(128).optional(),
  /** MQTT keep alive, seconds ([MQTT-3.1.2-24]: the broker drops the client after 1.5× without traffic) */
  keepaliveS: z.number().int().min(0).max(65535).default(30),
  /** first wait before reconnecting, ms; doubles per failed attempt (with jitter) up to reconnectMaxMs */
  reconnectPeriodMs: z.number().int().min(100).max(300_000).default(2000),
  /** longest wait between reconnect attempts, ms */
  reconnectMaxMs: z.number().int().min(100).max(3_600_000).default(30_000),
  /**
   * TLS (mqtts:// or wss:// URL): PEM file paths (relative to the working
   * directory). `ca` verifies the broker; `cert`/`key` is the agent's client
   * certificate, whose CN must be the agent id when the broker requires one
   */
  tls: z.strictObject({
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    /** false accepts any broker certificate: for tests only */
    rejectUnauthorized: z.boolean().default(true),
  }).refine((t) => (t.cert === undefined) === (t.key === undefined), { message: 'cert and key go together', path: ['cert'] }).optional(),
});

/**
 * The disk spool (store and forward). Without it the agent spools in memory:
 * nothing is lost while the broker is away, but everything not yet stored is
 * lost when the agent itself stops or dies.
 */
export const SpoolConfigSchema = z.strictObject({
  /** directory of the segment files; one agent per directory (a lock file enforces it) */
  dir: z.string().min(1),
  /** `always`: fdatasync before readings are sent; `interval`: every fsyncIntervalMs; `none`: leave it to the OS */
  fsync: z.enum(FSYNC_POLICIES).default('interval'),
  fsyncIntervalMs: z.number().int().min(1).max(60_000).default(1000),
  /** disk quota, bytes; beyond it the oldest readings go (counted, and reported as a reading) */
  maxBytes: z.number().int().min(4096).max(2 ** 50).default(1024 ** 3),
  /**
   * size at which a segment file is closed and the next begun, bytes; at most half of maxBytes. A
   * resend decodes one segment at a time: 1 MiB, not 4, keeps that to about 2 MB of heap
   */
  segmentBytes: z.number().int().min(1024).max(2 ** 40).default(1024 ** 2),
  /** newest readings not yet sent kept in memory for the sender, bytes (as written); beyond it the sender reads them back from disk */
  memoryBytes: z.number().int().min(4096).max(256 * 1024 ** 2).default(1024 ** 2),
});

const quantityName = z.enum(MEASURED_QUANTITIES as [Quantity, ...Quantity[]], {
  error: (iss) => `${JSON.stringify(iss.input)} is not a canonical quantity an agent may send`,
});

/** How one quantity is found in a room device's JSON: a dotted path, or the path with scale/offset/invert/states. */
export const FieldMappingSchema = z
  .union([
    z.string().min(1),
    z.strictObject({
      path: z.string().min(1),
      scale: z.number().refine((x) => Number.isFinite(x) && x !== 0, 'scale must be a finite, non-zero number').default(1),
      offset: z.number().default(0),
      /** booleans: true → 0, false → 1 (zigbee2mqtt contact: true = closed, but door 1 = open) */
      invert: z.boolean().default(false),
      /** named states: { "open": 1, "closed": 0 } */
      states: z.record(z.string(), z.number()).optional(),
    }),
  ])
  .transform((f) => (typeof f === 'string' ? { path: f, scale: 1, offset: 0, invert: false } : f));

export const RoomDeviceSchema = z.strictObject({
  /** device id as in the topology (a room's `sensors`) */
  id: z.string().min(1).max(LIMITS.maxDeviceIdLength),
  /** the topic the device publishes its JSON on (no wildcards) */
  topic: z.string().min(1).regex(/^[^+#]+$/, 'a topic, not a filter: no + or #'),
  map: z.partialRecord(quantityName, FieldMappingSchema).refine((m) => Object.keys(m).length > 0, {
    message: 'map at least one quantity',
    // a map whose keys are all wrong already says so, key by key
    when: (p) => p.issues.length === 0,
  }),
  /** the device's own timestamp; absent: the time the message arrived */
  ts: z.strictObject({ path: z.string().min(1), format: z.enum(['ms', 's', 'iso']).default('ms') }).optional(),
  /** silent this long → a comm_loss reading (and again each period while silent), ms */
  staleAfterMs: z.number().int().min(1000).max(86_400_000).default(60_000),
});

export const RoomConfigSchema = z.strictObject({
  /** the broker the room devices publish to; default: the uplink's broker */
  mqtt: z
    .strictObject({
      url: z.url({ protocol: /^(mqtts?|wss?)$/, error: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' }),
      username: z.string().optional(),
      password: z.string().optional(),
      clientId: z.string().min(1).max(128).optional(),
    })
    .optional(),
  devices: z.array(RoomDeviceSchema).min(1),
});

export const AgentConfigSchema = z.strictObject({
  agent: topicId,
  site: topicId,
  mqtt: MqttConfigSchema,
  /** readings are sent as one message per this period, ms (sooner when many are pending) */
  publishIntervalMs: z.number().int().min(10).max(60_000).default(1000),
  /** a reading first sent more than this after its poll goes out marked late (backfill), ms */
  lateAfterMs: z.number().int().min(100).max(86_400_000).default(10_000),
  /**
   * the server's watermark not moving this long while readings above it were
   * sent means a message was lost on the way: send again from it, ms (the
   * wait doubles while it stays stuck, up to 10×)
   */
  watermarkStallMs: z.number().int().min(100).max(3_600_000).default(30_000),
  spool: SpoolConfigSchema.optional(),
  /** room equipment that publishes its own JSON over MQTT */
  room: RoomConfigSchema.optional(),
  /** device profile files (YAML or JSON, relative to the config file) added to the built-ins; read by main.ts */
  profileFiles: z.array(z.string().min(1)).default([]),
  /** Modbus devices; an agent may have none when it has room equipment or DL/T 645 meters */
  devices: z.array(DeviceConfigSchema).default([]),
  /** DL/T 645-2007 meters (dlt645/config.ts) */
  dlt645: Dlt645ConfigSchema.optional(),
});

export type AgentConfig = DeepReadonly<z.output<typeof AgentConfigSchema>>;
export type DeviceConfig = AgentConfig['devices'][number];
export type MqttConfig = AgentConfig['mqtt'];
export type SpoolConfig = NonNullable<AgentConfig['spool']>;
export type TransportConfig = DeviceConfig['transport'];
export type RoomConfig = NonNullable<AgentConfig['room']>;
export type RoomDeviceConfig = RoomConfig['devices'][number];
/** The config as written: fields with defaults may be left out. */
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Checks across devices on the raw document, so they are reported together with the schema's errors. */
function crossCheck(doc: unknown, profiles: ProfileRegistry): string[] {
  const out: string[] = [];
  if (!isObject(doc)) return out;
  // MQTT 3.1.1 §3.1.2.9 [MQTT-3.1.2-22]: no password without a user name (mqtt.js then fails to connect without an error)
  if (isObject(doc.mqtt) && doc.mqtt.password !== undefined && doc.mqtt.username === undefined)
    out.push('mqtt.password: a password needs mqtt.username (MQTT 3.1.1 [MQTT-3.1.2-22])');
  if (isObject(doc.spool)) {
    const { maxBytes = 1024 ** 3, segmentBytes = 1024 ** 2 } = doc.spool;
    if (typeof maxBytes === 'number' && typeof segmentBytes === 'number' && segmentBytes * 2 > maxBytes)
      out.push(`spool.segmentBytes: ${segmentBytes} is more than half of spool.maxBytes (${maxBytes}); the quota drops whole segments`);
  }
  if (isObject(doc.mqtt)) {
    const { reconnectPeriodMs = 2000, reconnectMaxMs = 30_000 } = doc.mqtt;
    if (typeof reconnectPeriodMs === 'number' && typeof reconnectMaxMs === 'number' && reconnectMaxMs < reconnectPeriodMs)
      out.push(`mqtt.reconnectMaxMs: ${reconnectMaxMs} is below mqtt.reconnectPeriodMs (${reconnectPeriodMs})`);
  }
  if (isObject(doc.room) && isObject(doc.room.mqtt) && doc.room.mqtt.password !== undefined && doc.room.mqtt.username === undefined)
    out.push('room.mqtt.password: a password needs room.mqtt.username (MQTT 3.1.1 [MQTT-3.1.2-22])');
  // a gridwatch broker with credentials lets an agent subscribe to its watermark only, and (Mosquitto: client id =
  // user name) a second connection with the agent's user name would take the uplink's session over
  if (isObject(doc.room) && doc.room.mqtt === undefined && isObject(doc.mqtt) && doc.mqtt.username !== undefined)
    out.push("room.mqtt: give the room's own sensor broker; the uplink's broker, with the agent's credentials, takes no subscriptions to room topics");
  const roomDevices = isObject(doc.room) && Array.isArray(doc.room.devices) ? doc.room.devices.length : 0;
  const dlt645Devices = isObject(doc.dlt645) && Array.isArray(doc.dlt645.devices) ? doc.dlt645.devices.length : 0;
  if ((doc.devices === undefined || (Array.isArray(doc.devices) && doc.devices.length === 0)) && roomDevices === 0 && dlt645Devices === 0)
    out.push('devices: an agent needs at least one device (Modbus, room equipment under room.devices, or DL/T 645 meters under dlt645.devices)');
  if (!Array.isArray(doc.devices)) return out;
  const seen = new Map<string, number>();
  const lines = new Map<string, { at: number; settings: string }>();
  doc.devices.forEach((d: unknown, i) => {
    if (!isObject(d)) return;
    const t = d.transport;
    if (isObject(t) && t.kind === 'rtu' && typeof t.path === 'string') {
      // one serial line has one speed and framing: every device on it must say the same
      const settings = JSON.stringify([t.baudRate ?? 9600, t.dataBits ?? 8, t.parity ?? 'none', t.stopBits ?? 1, t.frameGapMs ?? null]);
      const first = lines.get(t.path);
      if (!first) lines.set(t.path, { at: i, settings });
      else if (first.settings !== settings)
        out.push(`devices[${i}].transport: serial line ${t.path} has other settings at devices[${first.at}] (baudRate, dataBits, parity, stopBits and frameGapMs must agree)`);
    }
    if (typeof d.id === 'string') {
      const first = seen.get(d.id);
      if (first !== undefined) out.push(`devices[${i}].id: duplicate device id "${d.id}" (first at devices[${first}])`);
      else seen.set(d.id, i);
    }
    if (typeof d.profile === 'string' && d.profile.length > 0 && !profiles.has(d.profile))
      out.push(`devices[${i}].profile: unknown profile "${d.profile}" (known: ${[...profiles.keys()].join(', ')})`);
  });
  if (isObject(doc.room) && Array.isArray(doc.room.devices)) {
    const roomSeen = new Map<string, number>();
    doc.room.devices.forEach((d: unknown, i) => {
      if (!isObject(d) || typeof d.id !== 'string') return;
      const meter = seen.get(d.id);
      const first = roomSeen.get(d.id);
      if (meter !== undefined) out.push(`room.devices[${i}].id: "${d.id}" is also devices[${meter}]`);
      else if (first !== undefined) out.push(`room.devices[${i}].id: duplicate device id "${d.id}" (first at room.devices[${first}])`);
      else roomSeen.set(d.id, i);
    });
  }
  return out;
}

/**
 * Validates a parsed config document (from YAML or JSON) and returns it
 * frozen with defaults filled in. Throws a ConfigError (`GW_ERR_CONFIG_INVALID`)
 * whose message and `issues` list every problem as `path: message`.
 */
export function loadAgentConfig(doc: unknown, opts: { profiles?: ProfileRegistry; dlt645Profiles?: Dlt645ProfileRegistry } = {}): AgentConfig {
  const profiles = opts.profiles ?? BUILTIN_PROFILES;
  const r = AgentConfigSchema.safeParse(doc, { reportInput: true });
  const issues = [...(r.success ? [] : formatIssues(r.error.issues)), ...crossCheck(doc, profiles), ...dlt645CrossCheck(doc, opts.dlt645Profiles ?? BUILTIN_DLT645_PROFILES)];
  if (issues.length > 0 || !r.success) throw new ConfigError('agent config', issues);
  return deepFreeze(r.data);
}
