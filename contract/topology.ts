/**
 * The topology model (docs/contract.md, Topology): site → room → transformer →
 * line → device, 10 kV feeders above the transformers, customers under a
 * transformer or line. Validated with every error reported at once, by path.
 */
import { z } from 'zod';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be an id of letters, digits, _ . - (max 64)');
const deviceId = z.string().min(1).max(256);

export const LineSchema = z.strictObject({
  id,
  name: z.string().min(1),
  /** rated current of the outgoing line, A: gives the line's load rate */
  ratedCurrentA: z.number().positive().optional(),
  /** the meter on this line */
  meter: deviceId.optional(),
});

export const TransformerSchema = z.strictObject({
  id,
  name: z.string().min(1),
  /** rated capacity, kVA: gives the transformer's load rate */
  ratedKva: z.number().positive(),
  /** nominal low-side voltage, V (phase-neutral 220 for 0.4 kV) */
  nominalV: z.number().positive().default(220),
  /** the meter on the transformer's low-voltage side */
  meter: deviceId.optional(),
  /** the 10 kV feeder that supplies this transformer (an id of `feeders`): one feeder trip is one outage */
  feeder: id.optional(),
  lines: z.array(LineSchema).default([]),
});

export const RoomSchema = z.strictObject({
  id,
  name: z.string().min(1),
  /** the edge agent installed in this room: the only agent (with `agents`) whose readings of this room's devices are taken */
  agent: id.optional(),
  /** further agents that may report this room's devices (an MQTT-native sensor, a history import) */
  agents: z.array(id).default([]),
  transformers: z.array(TransformerSchema).default([]),
  /** room equipment (temperature, humidity, door, water, smoke) by device id */
  sensors: z.array(deviceId).default([]),
});

export const SiteSchema = z.strictObject({
  id,
  name: z.string().min(1),
  rooms: z.array(RoomSchema).default([]),
});

/** A 10 kV feeder (10 kV 线路/馈线) leaving a substation; transformers name it in `feeder`. */
export const FeederSchema = z.strictObject({
  id,
  name: z.string().min(1),
  /** the substation (变电站) it leaves, free text */
  substation: z.string().min(1).optional(),
});

export const CUSTOMER_CATEGORIES = ['residential', 'commercial', 'industrial', 'agricultural', 'public', 'other'] as const;
export type CustomerCategory = (typeof CUSTOMER_CATEGORIES)[number];

/** Mobile or fixed number: digits with an optional leading +, spaces and dashes allowed (stored without them). */
export const PHONE_RE = /^\+?[0-9][0-9 -]{4,23}$/;
export const phone = z.string().regex(PHONE_RE, 'must be a phone number: digits, optional leading +, spaces or dashes (5-24)').transform((s) => s.replace(/[ -]/g, ''));

export const CustomerContactSchema = z.strictObject({
  name: z.string().min(1).max(100),
  /** electrical contact, legal person, accounts … (free text; 'electrical' is who outage notices go to first) */
  role: z.string().min(1).max(50).default('electrical'),
  /** absent: the contact is known but cannot be reached by SMS */
  phone: phone.optional(),
});

export const CustomerSchema = z.strictObject({
  /** customer number (户号 / 用户编号) */
  id,
  name: z.string().min(1).max(200),
  /** account number where it differs from the customer number */
  account: z.string().min(1).max(64).optional(),
  category: z.enum(CUSTOMER_CATEGORIES).default('residential'),
  /** important / sensitive customer (重要客户, 敏感客户: hospitals, water works …): listed first, counted apart */
  important: z.boolean().default(false),
  site: id,
  /** the transformer (台区) that supplies it, an id within `site` */
  transformer: id,
  /** the low-voltage line under that transformer, when known */
  line: id.optional(),
  /** the customer's own meter (device id); one customer per meter */
  meter: deviceId.optional(),
  contacts: z.array(CustomerContactSchema).default([]),
});

export const TopologySchema = z.strictObject({
  sites: z.array(SiteSchema),
  /** optional so that a topology without them stays a plain `{ sites }` value */
  feeders: z.array(FeederSchema).optional(),
  customers: z.array(CustomerSchema).optional(),
});

export type Topology = z.infer<typeof TopologySchema>;
export type Site = z.infer<typeof SiteSchema>;
export type Room = z.infer<typeof RoomSchema>;
export type Transformer = z.infer<typeof TransformerSchema>;
export type Line = z.infer<typeof LineSchema>;
export type Feeder = z.infer<typeof FeederSchema>;
export type Customer = z.infer<typeof CustomerSchema>;
export type CustomerContact = z.infer<typeof CustomerContactSchema>;

/** A customer with no contact that has a phone: no notice can reach them ('no contact' in the views). */
export function customerReachable(c: Pick<Customer, 'contacts'>): boolean {
  return c.contacts.some((k) => k.phone !== undefined && k.phone !== '');
}

/** Where a device sits; the tags of every stored point. Empty string = not applicable. */
export interface DevicePlace {
  site: string;
  room: string;
  transformer: string;
  line: string;
  device: string;
  role: 'transformer' | 'line' | 'sensor';
  /** A for a line meter, kVA for a transformer meter */
  ratedCurrentA?: number;
  ratedKva?: number;
}

export interface TopologyIssue {
  path: string;
  message: string;
}

export type TopologyResult =
  | { ok: true; topology: Topology; devices: Map<string, DevicePlace> }
  | { ok: false; errors: TopologyIssue[] };

function formatPath(path: readonly PropertyKey[], root: unknown): string {
  // "sites[0](s1).rooms[2](r3).id": the index and, when known, the id of each element
  let out = '';
  let node: unknown = root;
  for (const k of path) {
    if (typeof k === 'number') {
      out += `[${k}]`;
      node = Array.isArray(node) ? node[k] : undefined;
      const nid = (node as { id?: unknown } | undefined)?.id;
      if (typeof nid === 'string') out += `(${nid})`;
    } else {
      out += (out ? '.' : '') + String(k);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[String(k)] : undefined;
    }
  }
  return out || '(root)';
}

/** Validates a parsed topology document and indexes its devices. */
export function parseTopology(doc: unknown): TopologyResult {
  const r = TopologySchema.safeParse(doc);
  if (!r.success) {
    return { ok: false, errors: r.error.issues.map((i) => ({ path: formatPath(i.path, doc), message: i.message })) };
  }
  const errors: TopologyIssue[] = [];
  const devices = new Map<string, DevicePlace>();
  const seen = new Map<string, string>();
  const unique = (kind: string, key: string, path: string) => {
    const prev = seen.get(`${kind}:${key}`);
    if (prev) errors.push({ path, message: `duplicate ${kind} id "${key}" (first at ${prev})` });
    else seen.set(`${kind}:${key}`, path);
  };
  const addDevice = (place: DevicePlace, path: string) => {
    unique('device', place.device, path);
    devices.set(place.device, place);
  };
  const feeders = new Set<string>();
  (r.data.feeders ?? []).forEach((f, fi) => {
    unique('feeder', f.id, `feeders[${fi}](${f.id})`);
    feeders.add(f.id);
  });
  r.data.sites.forEach((site, si) => {
    const sp = `sites[${si}](${site.id})`;
    unique('site', site.id, sp);
    site.rooms.forEach((room, ri) => {
      const rp = `${sp}.rooms[${ri}](${room.id})`;
      unique('room', `${site.id}/${room.id}`, rp);
      room.transformers.forEach((t, ti) => {
        const tp = `${rp}.transformers[${ti}](${t.id})`;
        unique('transformer', `${site.id}/${t.id}`, tp);
        if (t.feeder !== undefined && !feeders.has(t.feeder)) errors.push({ path: `${tp}.feeder`, message: `unknown feeder "${t.feeder}"` });
        if (t.meter) addDevice({ site: site.id, room: room.id, transformer: t.id, line: '', device: t.meter, role: 'transformer', ratedKva: t.ratedKva }, `${tp}.meter`);
        t.lines.forEach((l, li) => {
          const lp = `${tp}.lines[${li}](${l.id})`;
          unique('line', `${site.id}/${l.id}`, lp);
          if (l.meter) {
            const place: DevicePlace = { site: site.id, room: room.id, transformer: t.id, line: l.id, device: l.meter, role: 'line' };
            if (l.ratedCurrentA !== undefined) place.ratedCurrentA = l.ratedCurrentA;
            addDevice(place, `${lp}.meter`);
          }
        });
      });
      room.sensors.forEach((d, di) => addDevice({ site: site.id, room: room.id, transformer: '', line: '', device: d, role: 'sensor' }, `${rp}.sensors[${di}]`));
    });
  });
  const refs = topologyRefs(r.data);
  const customerIds = new Map<string, string>();
  const customerMeters = new Map<string, string>();
  (r.data.customers ?? []).forEach((c, ci) => {
    const cp = `customers[${ci}](${c.id})`;
    const prev = customerIds.get(c.id);
    if (prev) errors.push({ path: cp, message: `duplicate customer id "${c.id}" (first at ${prev})` });
    else customerIds.set(c.id, cp);
    for (const issue of customerRefIssues(refs, c)) errors.push({ path: `${cp}.${issue.path}`, message: issue.message });
    if (c.meter !== undefined) {
      const pm = customerMeters.get(c.meter);
      if (pm) errors.push({ path: `${cp}.meter`, message: `meter "${c.meter}" already belongs to ${pm}` });
      else customerMeters.set(c.meter, cp);
    }
  });
  if (errors.length) return { ok: false, errors };
  return { ok: true, topology: r.data, devices };
}

/** What a customer may refer to: the transformers of each site and the transformer of each line. */
export interface TopologyRefs {
  /** `site/transformer` */
  transformers: Set<string>;
  /** `site/line` → transformer id */
  lines: Map<string, string>;
  sites: Set<string>;
  feeders: Set<string>;
}

export function topologyRefs(t: Pick<Topology, 'sites' | 'feeders'>): TopologyRefs {
  const refs: TopologyRefs = { transformers: new Set(), lines: new Map(), sites: new Set(), feeders: new Set((t.feeders ?? []).map((f) => f.id)) };
  for (const site of t.sites) {
    refs.sites.add(site.id);
    for (const room of site.rooms) for (const tr of room.transformers) {
      refs.transformers.add(`${site.id}/${tr.id}`);
      for (const l of tr.lines) refs.lines.set(`${site.id}/${l.id}`, tr.id);
    }
  }
  return refs;
}

/** A customer's references checked against the topology: unknown site, transformer, or a line under another transformer. */
export function customerRefIssues(refs: TopologyRefs, c: Pick<Customer, 'site' | 'transformer' | 'line'>): TopologyIssue[] {
  if (!refs.sites.has(c.site)) return [{ path: 'site', message: `unknown site "${c.site}"` }];
  const out: TopologyIssue[] = [];
  if (!refs.transformers.has(`${c.site}/${c.transformer}`)) out.push({ path: 'transformer', message: `unknown transformer "${c.transformer}" in site "${c.site}"` });
  if (c.line !== undefined) {
    const owner = refs.lines.get(`${c.site}/${c.line}`);
    if (owner === undefined) out.push({ path: 'line', message: `unknown line "${c.line}" in site "${c.site}"` });
    else if (owner !== c.transformer) out.push({ path: 'line', message: `line "${c.line}" is under transformer "${owner}", not "${c.transformer}"` });
  }
  return out;
}
