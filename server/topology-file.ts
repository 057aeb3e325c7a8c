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
