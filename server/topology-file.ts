import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { parseTopology, type DevicePlace, type Topology } from '../contract/index.ts';
import { ConfigError } from './errors.ts';

export interface LoadedTopology {
  topology: Topology;
  devices: Map<string, DevicePlace>;
}

/** Parses a topology YAML text; every error is reported at once with its path. */
export function topologyFromYaml(text: string, source = 'topology'): LoadedTopology {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(source, [`YAML: ${(e as Error).message}`], 'GW_ERR_TOPOLOGY_INVALID');
  }
  const r = parseTopology(doc);
  if (!r.ok) throw new ConfigError(source, r.errors.map((e) => `${e.path}: ${e.message}`), 'GW_ERR_TOPOLOGY_INVALID');
  return { topology: r.topology, devices: r.devices };
}

export async function loadTopologyFile(file: string | undefined): Promise<LoadedTopology> {
  if (!file) return { topology: { sites: [] }, devices: new Map() };
  return topologyFromYaml(await readFile(file, 'utf8'), file);
}

/** What a reload changed in the device layout (readings' placement, alarm sources, /api/topology). */
export interface LayoutDiff {
  sitesAdded: string[];
  sitesRemoved: string[];
  /** `site/room` */
  roomsAdded: string[];
  roomsRemoved: string[];
  devicesAdded: string[];
  devicesRemoved: string[];
  /** a device whose site, room, transformer, line or role changed: from → to as `site/room/transformer/line` */
  devicesMoved: { device: string; from: string; to: string }[];
}

const placeText = (p: DevicePlace) => `${p.site}/${p.room}/${p.transformer}/${p.line}`;
const roomsOf = (t: Topology) => new Set(t.sites.flatMap((s) => s.rooms.map((r) => `${s.id}/${r.id}`)));

/**
 * Puts a reloaded topology in place of the running one. The server's one
 * topology object and device map are updated in place, in one synchronous
 * step, so every part holding them (ingest, alarms, outage correlation, the
 * HTTP routes, the live hub's scoping) sees the new layout at once and none
 * sees half of it; parts with indexes derived from them rebuild those after
 * (server/server.ts). A file that does not parse changes nothing: it never
 * gets here (topologyFromYaml throws first).
 */
export function applyLayout(current: LoadedTopology, next: LoadedTopology): LayoutDiff {
  const before = current.topology;
  const beforeSites = new Set(before.sites.map((s) => s.id));
  const afterSites = new Set(next.topology.sites.map((s) => s.id));
  const beforeRooms = roomsOf(before);
  const afterRooms = roomsOf(next.topology);
  const diff: LayoutDiff = {
    sitesAdded: [...afterSites].filter((s) => !beforeSites.has(s)),
    sitesRemoved: [...beforeSites].filter((s) => !afterSites.has(s)),
    roomsAdded: [...afterRooms].filter((r) => !beforeRooms.has(r)),
    roomsRemoved: [...beforeRooms].filter((r) => !afterRooms.has(r)),
    devicesAdded: [],
    devicesRemoved: [],
    devicesMoved: [],
  };
  for (const [d, p] of next.devices) {
    const old = current.devices.get(d);
    if (!old) diff.devicesAdded.push(d);
    else if (placeText(old) !== placeText(p) || old.role !== p.role) diff.devicesMoved.push({ device: d, from: placeText(old), to: placeText(p) });
  }
  for (const d of current.devices.keys()) if (!next.devices.has(d)) diff.devicesRemoved.push(d);
  // in place: the object and the map are shared by reference
  const target = before as unknown as Record<string, unknown>;
  for (const k of Object.keys(target)) if (!(k in next.topology)) delete target[k];
  Object.assign(target, next.topology);
  current.devices.clear();
  for (const [d, p] of next.devices) current.devices.set(d, p);
  return diff;
}
