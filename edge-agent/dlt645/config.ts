/**
 * The `dlt645` section of the agent config: DL/T 645-2007 meters, each on a
 * bus (a serial line or a transparent TCP gateway), named by the 12-digit
 * address on its plate. Part of the agent's one schema (../config.ts); the
 * checks across devices run with the agent's own, so every problem is
 * reported at once.
 */
import { z } from 'zod';
import { LIMITS } from '../../contract/index.ts';
import { MAX_PREAMBLE } from './frame.ts';
import { DLT645_PARITIES } from './link.ts';
import { ConfigError } from '../errors.ts';
import { Dlt645ProfileSchema, loadDlt645Profile, type Dlt645ProfileRegistry } from './profile.ts';
import { dlt645BusKey } from './bus-key.ts';

export { dlt645BusKey } from './bus-key.ts';

const frameGapMs = z.number().int().min(0).max(10_000);
/** FE wake-up bytes before each request; the standard's master sends 4 */
const preamble = z.number().int().min(0).max(MAX_PREAMBLE).default(4);

/** A transparent serial-over-TCP gateway: the 645 frames pass through unchanged. */
export const Dlt645TcpTransportSchema = z.strictObject({
  kind: z.literal('tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  frameGapMs: frameGapMs.default(0),
  preamble,
});

/** The baud rates DL/T 645-2007 names (§6.2); 2400 is the standard's default. */
export const DLT645_BAUD_RATES = [1200, 2400, 4800, 9600, 19_200] as const;

/** An RS-485 line: 8 data bits, even parity, 1 stop bit (8E1) unless said otherwise. */
export const Dlt645SerialTransportSchema = z.strictObject({
  kind: z.literal('serial'),
  path: z.string().min(1),
  baudRate: z
    .number()
    .refine((b) => (DLT645_BAUD_RATES as readonly number[]).includes(b), `must be one of ${DLT645_BAUD_RATES.join(', ')}`)
    .default(2400),
  dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
  parity: z.enum(DLT645_PARITIES).default('even'),
  stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  /** default: 4 character times at 11 bits each, at least 5 ms */
  frameGapMs: frameGapMs.optional(),
  preamble,
});

export const Dlt645TransportSchema = z.discriminatedUnion('kind', [Dlt645TcpTransportSchema, Dlt645SerialTransportSchema]);

/** 12 digits; a YAML number (000000000001 reads as 1) is padded back to 12 */
const address = z
  .union([
    z.string().regex(/^[0-9]{12}$/, 'must be the 12 digits on the meter plate, e.g. "000012345678"'),
    z.number().int().min(0).max(999_999_999_999),
  ])
  .transform((a) => (typeof a === 'number' ? String(a).padStart(12, '0') : a));

export const Dlt645DeviceSchema = z.strictObject({
  /** device id as in the topology; travels in every reading */
  id: z.string().min(1).max(LIMITS.maxDeviceIdLength),
  /** id of a DL/T 645 profile (identifiers to read), e.g. `dlt645-3p` */
  profile: z.string().min(1),
  address,
  transport: Dlt645TransportSchema,
  /** time between polls, ms; one poll is a request per identifier (about 0.1 s each at 9600 baud, 0.3 s at 2400) */
  intervalMs: z.number().int().min(100).max(86_400_000).default(5000),
  /** how long one request waits for the meter's reply, ms */
  timeoutMs: z.number().int().min(10).max(60_000).default(1000),
  /** while in comm_loss polls back off (interval × 2ⁿ) up to this, ms */
  backoffMaxMs: z.number().int().min(0).max(3_600_000).default(30_000),
});

export const Dlt645ConfigSchema = z.strictObject({
  devices: z.array(Dlt645DeviceSchema).min(1),
  /** profiles of this agent's own (vendor identifiers, other formats), added to the built-ins; one with a built-in's id replaces it */
  profiles: z.array(Dlt645ProfileSchema).default([]),
  /**
   * Broadcast time sync (08H to 99×6, no reply) on every bus this often, ms;
   * off unless set. The meters take the agent's clock in local time at
   * `utcOffsetMin`. Meters accept it only within their own limits (most: at
   * most once a day, at most 5 minutes of correction).
   */
  timeSync: z
    .strictObject({
      intervalMs: z.number().int().min(60_000).max(7 * 86_400_000),
      /** minutes east of UTC; default 480 (China Standard Time) */
      utcOffsetMin: z.number().int().min(-720).max(840).default(480),
    })
    .optional(),
});

export type Dlt645Config = z.output<typeof Dlt645ConfigSchema>;
export type Dlt645DeviceConfig = Dlt645Config['devices'][number];
export type Dlt645TransportConfig = Dlt645DeviceConfig['transport'];

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * The registry the section's devices resolve against: `base` plus the
 * section's own profiles (the valid ones; the others are reported by
 * dlt645CrossCheck).
 */
export function dlt645Registry(profiles: readonly unknown[] | undefined, base: Dlt645ProfileRegistry): Dlt645ProfileRegistry {
  const map = new Map(base);
  for (const doc of profiles ?? []) {
    try {
      const p = loadDlt645Profile(doc);
      map.set(p.id, p);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
    }
  }
  return map;
}

/**
 * Checks across the raw document: the section's own profiles (formats of
 * identifiers, quantities read twice), 645 profile ids, one address once per bus,
 * one serial line with one set of settings and not also a Modbus RTU line,
 * device ids not also used by a Modbus or room device.
 */
export function dlt645CrossCheck(doc: unknown, profiles: Dlt645ProfileRegistry): string[] {
  const out: string[] = [];
  if (!isObject(doc) || !isObject(doc.dlt645)) return out;
  const own = Array.isArray(doc.dlt645.profiles) ? doc.dlt645.profiles : [];
  own.forEach((p: unknown, i) => {
    // the schema reports the shape; this adds what only loading finds, each once
    if (!Dlt645ProfileSchema.safeParse(p).success) return;
    try {
      loadDlt645Profile(p);
    } catch (err) {
      if (err instanceof ConfigError) for (const issue of err.issues) out.push(`dlt645.profiles[${i}].${issue}`);
      else throw err;
    }
  });
  profiles = dlt645Registry(own, profiles);
  if (!Array.isArray(doc.dlt645.devices)) return out;
  const otherIds = new Map<string, string>();
  if (Array.isArray(doc.devices)) doc.devices.forEach((d: unknown, i) => isObject(d) && typeof d.id === 'string' && otherIds.set(d.id, `devices[${i}]`));
  if (isObject(doc.room) && Array.isArray(doc.room.devices))
    doc.room.devices.forEach((d: unknown, i) => isObject(d) && typeof d.id === 'string' && otherIds.set(d.id, `room.devices[${i}]`));
  const rtuPaths = new Set<string>();
  if (Array.isArray(doc.devices))
    for (const d of doc.devices) if (isObject(d) && isObject(d.transport) && d.transport.kind === 'rtu' && typeof d.transport.path === 'string') rtuPaths.add(d.transport.path);
  const ids = new Map<string, number>();
  const addresses = new Map<string, number>();
  const lines = new Map<string, { at: number; settings: string }>();
  doc.dlt645.devices.forEach((d: unknown, i) => {
    if (!isObject(d)) return;
    const at = `dlt645.devices[${i}]`;
    if (typeof d.id === 'string') {
      const other = otherIds.get(d.id);
      const first = ids.get(d.id);
      if (other) out.push(`${at}.id: "${d.id}" is also ${other}`);
      else if (first !== undefined) out.push(`${at}.id: duplicate device id "${d.id}" (first at dlt645.devices[${first}])`);
      else ids.set(d.id, i);
    }
    if (typeof d.profile === 'string' && d.profile.length > 0 && !profiles.has(d.profile))
      out.push(`${at}.profile: unknown DL/T 645 profile "${d.profile}" (known: ${[...profiles.keys()].join(', ')})`);
    const t = d.transport;
    if (!isObject(t) || (t.kind !== 'tcp' && t.kind !== 'serial')) return;
    const key = dlt645BusKey(t);
    const addr = typeof d.address === 'number' ? String(d.address).padStart(12, '0') : d.address;
    if (typeof addr === 'string') {
      const first = addresses.get(`${key} ${addr}`);
      if (first !== undefined) out.push(`${at}.address: ${addr} is already dlt645.devices[${first}] on the same bus`);
      else addresses.set(`${key} ${addr}`, i);
    }
    if (t.kind === 'serial' && typeof t.path === 'string' && rtuPaths.has(t.path))
      out.push(`${at}.transport.path: ${t.path} is also a Modbus RTU line in devices; one line speaks one protocol`);
    // one bus has one speed, framing, gap and preamble: every meter on it must say the same
    const settings = JSON.stringify(
      t.kind === 'serial' ? [t.baudRate ?? 2400, t.dataBits ?? 8, t.parity ?? 'even', t.stopBits ?? 1, t.frameGapMs ?? null, t.preamble ?? 4] : [t.frameGapMs ?? 0, t.preamble ?? 4],
    );
    const first = lines.get(key);
    if (!first) lines.set(key, { at: i, settings });
    else if (first.settings !== settings)
      out.push(`${at}.transport: the bus ${key.replace(/^dlt645\+/, '')} has other settings at dlt645.devices[${first.at}] (${t.kind === 'serial' ? 'baudRate, dataBits, parity, stopBits, ' : ''}frameGapMs and preamble must agree)`);
  });
  return out;
}
