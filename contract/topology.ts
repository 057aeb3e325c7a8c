/**
 * The topology model (docs/contract.md, Topology): site → room → transformer →
 * line → device. Validated with every error reported at once, by path.
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

export const TopologySchema = z.strictObject({
  sites: z.array(SiteSchema),
});

export type Topology = z.infer<typeof TopologySchema>;
export type Site = z.infer<typeof SiteSchema>;
export type Room = z.infer<typeof RoomSchema>;
export type Transformer = z.infer<typeof TransformerSchema>;
export type Line = z.infer<typeof LineSchema>;

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
  r.data.sites.forEach((site, si) => {
    const sp = `sites[${si}](${site.id})`;
    unique('site', site.id, sp);
    site.rooms.forEach((room, ri) => {
      const rp = `${sp}.rooms[${ri}](${room.id})`;
      unique('room', `${site.id}/${room.id}`, rp);
      room.transformers.forEach((t, ti) => {
        const tp = `${rp}.transformers[${ti}](${t.id})`;
        unique('transformer', `${site.id}/${t.id}`, tp);
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
  if (errors.length) return { ok: false, errors };
  return { ok: true, topology: r.data, devices };
}
