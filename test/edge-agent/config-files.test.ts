/**
 * The agent process's config loader (edge-agent/config-files.ts, the bundle's
 * gridwatch-agent-config.cjs): the config file as JSON or YAML, the profile
 * files it names and the DL/T 645 profiles of its own, returned as plain
 * frozen data that the running agent (agent.ts, which loads no schema) uses
 * as it is; a refused config and a missing file are errors with every
 * problem, as the agent logs them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { createAgent } from '../../edge-agent/agent.ts';
import { loadConfigFiles } from '../../edge-agent/config-files.ts';
import { ConfigError } from '../../edge-agent/index.ts';
import { testLog } from '../support/logger.ts';
import { tmpDir } from './support.ts';

const work = tmpDir('gw-config-files-');
afterAll(() => work.remove());

/** where `x` is not plain frozen data (primitives, plain objects and arrays, frozen; Maps of them): the paths */
function notPlainFrozen(x: unknown, at = '(root)', out: string[] = []): string[] {
  if (x === null || typeof x !== 'object') {
    if (typeof x === 'function' || typeof x === 'symbol') out.push(`${at}: ${typeof x}`);
    return out;
  }
  if (x instanceof Map) {
    for (const [k, v] of x) notPlainFrozen(v, `${at}.get(${JSON.stringify(k)})`, out);
    return out;
  }
  const proto = Object.getPrototypeOf(x) as unknown;
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) out.push(`${at}: an instance of ${(x as object).constructor?.name ?? '?'}`);
  if (!Object.isFrozen(x)) out.push(`${at}: not frozen`);
  for (const [k, v] of Object.entries(x)) notPlainFrozen(v, `${at}.${k}`, out);
  return out;
}

const meterProfile = {
  id: 'own-meter',
  description: 'a meter of our own: FC 04 float32',
  registers: [
    { quantity: 'ua', address: 0, fc: 4, type: 'float32' },
    { quantity: 'p', address: 12, fc: 4, type: 'float32', scale: 0.001 },
  ],
};

const config = {
  agent: 'room-7',
  site: 'site-1',
  mqtt: { url: 'mqtt://127.0.0.1:1883' },
  profileFiles: ['profiles/own-meter.yaml'],
  devices: [{ id: 'm1', profile: 'own-meter', transport: { kind: 'tcp', host: '127.0.0.1', port: 502 }, unitId: 1 }],
  dlt645: {
    profiles: [{ id: 'own-645', reads: [{ di: '0201ff00', quantities: ['ua', 'ub', 'uc'] }, { di: '04A00001', quantities: ['f'], bytes: 2, decimals: 2, signed: false }] }],
    devices: [{ id: 'd1', profile: 'own-645', address: '000000000001', transport: { kind: 'tcp', host: '127.0.0.1', port: 8899 } }],
  },
};

describe('the config loader', () => {
  it('reads a JSON or a YAML config with its profile files and DL/T 645 profiles; returns plain frozen data the running agent takes as it is', async () => {
    const dir = path.join(work.dir, 'etc');
    mkdirSync(path.join(dir, 'profiles'), { recursive: true });
    writeFileSync(path.join(dir, 'profiles', 'own-meter.yaml'), toYaml(meterProfile));
    writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(config));
    writeFileSync(path.join(dir, 'agent.yaml'), toYaml(config));

    const fromJson = await loadConfigFiles(path.join(dir, 'agent.json'));
    const fromYaml = await loadConfigFiles(path.join(dir, 'agent.yaml'));
    expect(fromYaml).toEqual(fromJson);
    expect(notPlainFrozen(fromJson)).toEqual([]);
    const { config: c, profiles, dlt645Profiles } = fromJson;
    // defaults filled in, profile files resolved from the config file's directory, the built-ins kept
    expect(c.devices[0]).toMatchObject({ intervalMs: 1000, transport: { frameGapMs: 0 } });
    expect(profiles.get('own-meter')?.registers[1]).toEqual({ quantity: 'p', address: 12, fc: 4, type: 'float32', wordOrder: 'ABCD', scale: 0.001 });
    expect(profiles.has('dtsu666')).toBe(true);
    // the config's own 645 profile with every read's format resolved (the identifier upper-cased, its format from the standard)
    expect(dlt645Profiles.get('own-645')?.reads.map((r) => [r.di, r.format])).toEqual([
      ['0201FF00', { bytes: 2, decimals: 1, signed: false }],
      ['04A00001', { bytes: 2, decimals: 2, signed: false }],
    ]);
    expect(dlt645Profiles.has('dlt645-3p')).toBe(true);

    // the running agent resolves every device's profile from them, before it opens anything
    expect(() => createAgent(c, { log: testLog, profiles, dlt645Profiles })).not.toThrow();
    // and refuses a device whose profile is not in them
    expect(() => createAgent(c, { log: testLog, profiles, dlt645Profiles: new Map() })).toThrow(/dlt645\.devices\[0\]\.profile: unknown DL\/T 645 profile "own-645"/);
  });

  it('a refused config lists every problem, those of its profile files prefixed with the file; a missing file is its read error', async () => {
    const dir = path.join(work.dir, 'bad');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'p.yaml'), toYaml({ ...meterProfile, registers: [{ quantity: 'ua', address: 0, fc: 16, type: 'float32' }] }));
    writeFileSync(path.join(dir, 'agent.yaml'), toYaml({ ...config, profileFiles: ['p.yaml'] }));
    const err = await loadConfigFiles(path.join(dir, 'agent.yaml')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual(['p.yaml: registers[0].fc: function code 16 is not allowed: the agent only sends read function codes 1–4']);

    writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ ...config, profileFiles: [], publishIntervalMs: 1 }));
    const bad = await loadConfigFiles(path.join(dir, 'agent.json')).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ConfigError);
    expect((bad as ConfigError).issues).toEqual([
      'publishIntervalMs: Too small: expected number to be >=10',
      'devices[0].profile: unknown profile "own-meter" (known: dtsu666, dtsu666-101e, sdm630, em24, adw300)',
    ]);

    await expect(loadConfigFiles(path.join(dir, 'absent.yaml'))).rejects.toThrow(/ENOENT: no such file or directory/);
  });
});
