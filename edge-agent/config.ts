/**
 * Edge-agent configuration (CONVENTIONS.md §5): one schema, defaults in the
 * schema, unknown keys rejected, every problem reported at once with its
 * path, the type derived from the schema, the result frozen and passed in.
 */
import { z } from 'zod';
import { LIMITS, TOPIC_ID_PATTERN } from '../contract/index.ts';
import { ConfigError } from './errors.ts';
import { deepFreeze, type DeepReadonly } from './freeze.ts';
import { formatIssues } from './issues.ts';
import { BUILTIN_PROFILES, type ProfileRegistry } from './profiles/index.ts';

/** agent and site ids are MQTT topic levels ([MQTT-4.7.1-1]: no `/`, `+`, `#`) */
const topicId = z.string().regex(TOPIC_ID_PATTERN, 'must be 1–64 letters, digits, _ . - starting with a letter or digit');

/** Modbus TCP, directly to a meter or to an RS-485 gateway serving many unit ids on one host:port. */
export const TcpTransportSchema = z.strictObject({
  kind: z.literal('tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
});

/** One transport kind for now; RTU (serial) joins the union later. */
export const TransportSchema = z.discriminatedUnion('kind', [TcpTransportSchema]);

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
   * timeout on every cycle (METERS.md "Notes for drivers").
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
  /** wait between reconnect attempts, ms */
  reconnectPeriodMs: z.number().int().min(100).max(300_000).default(2000),
});

export const AgentConfigSchema = z.strictObject({
  agent: topicId,
  site: topicId,
  mqtt: MqttConfigSchema,
  /** readings are sent as one message per this period, ms (sooner when many are pending) */
  publishIntervalMs: z.number().int().min(10).max(60_000).default(1000),
  devices: z.array(DeviceConfigSchema).min(1),
});

export type AgentConfig = DeepReadonly<z.output<typeof AgentConfigSchema>>;
export type DeviceConfig = AgentConfig['devices'][number];
export type MqttConfig = AgentConfig['mqtt'];
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
  if (!Array.isArray(doc.devices)) return out;
  const seen = new Map<string, number>();
  doc.devices.forEach((d: unknown, i) => {
    if (!isObject(d)) return;
    if (typeof d.id === 'string') {
      const first = seen.get(d.id);
      if (first !== undefined) out.push(`devices[${i}].id: duplicate device id "${d.id}" (first at devices[${first}])`);
      else seen.set(d.id, i);
    }
    if (typeof d.profile === 'string' && d.profile.length > 0 && !profiles.has(d.profile))
      out.push(`devices[${i}].profile: unknown profile "${d.profile}" (known: ${[...profiles.keys()].join(', ')})`);
  });
  return out;
}

/**
 * Validates a parsed config document (from YAML or JSON) and returns it
 * frozen with defaults filled in. Throws a ConfigError (`GW_ERR_CONFIG_INVALID`)
 * whose message and `issues` list every problem as `path: message`.
 */
export function loadAgentConfig(doc: unknown, opts: { profiles?: ProfileRegistry } = {}): AgentConfig {
  const profiles = opts.profiles ?? BUILTIN_PROFILES;
  const r = AgentConfigSchema.safeParse(doc, { reportInput: true });
  const issues = [...(r.success ? [] : formatIssues(r.error.issues)), ...crossCheck(doc, profiles)];
  if (issues.length > 0 || !r.success) throw new ConfigError('agent config', issues);
  return deepFreeze(r.data);
}
