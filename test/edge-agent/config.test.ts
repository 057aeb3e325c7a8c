import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createAgent,
  createProfileRegistry,
  dtsu666Profile,
  loadAgentConfig,
  loadProfile,
} from '../../edge-agent/index.ts';
import { testLog } from '../support/logger.ts';

const device = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  profile: 'dtsu666',
  transport: { kind: 'tcp', host: 'gw-1', port: 502 },
  unitId: 1,
  ...extra,
});

const valid = () => ({
  agent: 'room-12',
  site: 'cd-east',
  mqtt: { url: 'mqtt://broker:1883' },
  devices: [device('m1'), device('m2', { unitId: 2 })],
});

function configError(doc: unknown): ConfigError {
  try {
    loadAgentConfig(doc);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected loadAgentConfig to throw');
}

describe('agent config', () => {
  it('fills every default and returns the config frozen all the way down', () => {
    const c = loadAgentConfig(valid());
    expect(c.publishIntervalMs).toBe(1000);
    expect(c.mqtt.keepaliveS).toBe(30);
    expect(c.devices[0]).toMatchObject({ intervalMs: 1000, timeoutMs: 1000, unitId: 1 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.devices)).toBe(true);
    expect(Object.isFrozen(c.devices[1]!.transport)).toBe(true);
    expect(() => {
      (c.devices as unknown as unknown[]).push(device('m3'));
    }).toThrow(TypeError);
  });

  it('reads the compose example', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parse } = await import('yaml');
    const c = loadAgentConfig(parse(await readFile(new URL('../../config/compose/agent.yaml', import.meta.url), 'utf8')));
    expect(c.devices.map((d) => d.unitId)).toEqual([1, 2, 3]);
  });

  it('lists every problem at once, each with its path', () => {
    const doc = {
      agent: 'room/12', // not a topic level
      // site missing
      mqtt: { url: 'http://broker', keepaliveS: '30', colour: 'red' },
      publishIntervalMs: 1000,
      devices: [
        device('m1'),
        device('m2', { unitId: 0 }),
        { id: 'm3', profile: 'dtsu666', transport: { kind: 'tcp', host: 'gw-1', port: '502' }, unitId: 3, pollEvery: 5 },
        device('m1', { unitId: 4 }), // duplicate id
        device('m5', { profile: 'sdm999', transport: { kind: 'ascii', path: '/dev/ttyS0' } }),
      ],
      extra: true,
    };
    const err = configError(doc);
    expect(err.code).toBe('GW_ERR_CONFIG_INVALID');
    expect(err.retryable).toBe(false);
    const lines = [...err.issues];
    const expected: RegExp[] = [
      /^agent: must be/,
      /^site: required \(expected string\)$/,
      /^mqtt\.url: must be an mqtt:\/\//,
      /^mqtt\.keepaliveS: expected number, received string$/,
      /^mqtt\.colour: unknown key$/,
      /^devices\[1\]\.unitId: /,
      /^devices\[2\]\.transport\.port: expected number, received string$/,
      /^devices\[2\]\.pollEvery: unknown key$/,
      /^devices\[3\]\.id: duplicate device id "m1" \(first at devices\[0\]\)$/,
      /^devices\[4\]\.transport\.kind: /,
      /^devices\[4\]\.profile: unknown profile "sdm999"/,
      /^extra: unknown key$/,
    ];
    for (const re of expected) expect(lines.some((l) => re.test(l)), `no issue matching ${re}\n${lines.join('\n')}`).toBe(true);
    expect(lines).toHaveLength(expected.length);
    // the message carries the same list, so a log line or a crash shows all of it
    for (const l of lines) expect(err.message).toContain(l);
  });

  it('reports a missing or wrongly typed top level, and never echoes a secret', () => {
    expect(configError(undefined).issues).toEqual(['(root): empty document (expected object)']);
    expect(configError([]).issues).toEqual(['(root): expected object, received array']);
    const err = configError({ ...valid(), mqtt: { url: 'mqtt://b', username: 'u', password: 123456789 }, devices: [] });
    expect(err.issues).toEqual(['mqtt.password: expected string, received number', 'devices: an agent needs at least one device (Modbus, room equipment under room.devices, or DL/T 645 meters under dlt645.devices)']);
    expect(err.message).not.toContain('123456789');
  });

  it('refuses a password without a user name (MQTT 3.1.1 forbids it; mqtt.js would silently never connect)', () => {
    expect(configError({ ...valid(), mqtt: { url: 'mqtt://b', password: 'x' } }).issues).toEqual([
      'mqtt.password: a password needs mqtt.username (MQTT 3.1.1 [MQTT-3.1.2-22])',
    ]);
    expect(loadAgentConfig({ ...valid(), mqtt: { url: 'mqtt://b', username: 'agent', password: 'x' } }).mqtt.username).toBe('agent');
  });

  it('spool: defaults filled, fsync policy checked, a segment the quota cannot drop whole refused; reconnect cap not below its start', () => {
    const c = loadAgentConfig({ ...valid(), spool: { dir: '/var/lib/gridwatch/spool' } });
    expect(c.spool).toEqual({ dir: '/var/lib/gridwatch/spool', fsync: 'interval', fsyncIntervalMs: 1000, maxBytes: 1024 ** 3, segmentBytes: 1024 ** 2, memoryBytes: 1024 ** 2 });
    expect(configError({ ...valid(), spool: { dir: 'x', memoryBytes: 100 } }).issues).toEqual([expect.stringMatching(/^spool\.memoryBytes: /)]);
    expect(c.lateAfterMs).toBe(10_000);
    expect(c.mqtt.reconnectMaxMs).toBe(30_000);
    expect(loadAgentConfig(valid()).spool).toBeUndefined();
    expect(configError({ ...valid(), spool: { dir: 'x', fsync: 'sometimes', maxBytes: 10_000, segmentBytes: 6000 }, mqtt: { url: 'mqtt://b', reconnectPeriodMs: 5000, reconnectMaxMs: 1000 } }).issues).toEqual([
      expect.stringMatching(/^spool\.fsync: /),
      'spool.segmentBytes: 6000 is more than half of spool.maxBytes (10000); the quota drops whole segments',
      'mqtt.reconnectMaxMs: 1000 is below mqtt.reconnectPeriodMs (5000)',
    ]);
  });

  it('resolves profiles against the registry it is given', () => {
    const custom = createProfileRegistry([{ ...dtsu666Profile(), id: 'acme-meter' }]);
    expect(() => loadAgentConfig({ ...valid(), devices: [device('m1', { profile: 'acme-meter' })] })).toThrow(/unknown profile "acme-meter"/);
    const c = loadAgentConfig({ ...valid(), devices: [device('m1', { profile: 'acme-meter' })] }, { profiles: custom });
    expect(c.devices[0]!.profile).toBe('acme-meter');
    // and createAgent refuses a profile its registry lacks, before any I/O
    expect(() => createAgent(c, { log: testLog })).toThrow(ConfigError);
    expect(() => createAgent(c, { log: testLog, profiles: custom })).not.toThrow();
  });
});

describe('device profiles', () => {
  const base = () => ({
    id: 'acme',
    registers: [{ quantity: 'ua', address: 0, fc: 3, type: 'float32', wordOrder: 'ABCD', scale: 0.1 }],
  });

  it('the built-in DTSU666 profiles load, with defaults and frozen', () => {
    const p = loadProfile(dtsu666Profile());
    expect(p.id).toBe('dtsu666');
    expect(p.maxRegistersPerRead).toBe(125);
    expect(Object.isFrozen(p.registers[0])).toBe(true);
    expect(loadProfile(dtsu666Profile(0x101e)).registers.find((r) => r.quantity === 'ep_imp')!.address).toBe(0x101e);
  });

  it.each([5, 6, 15, 16, 0, 43, '3'])('rejects function code %s: only reads (1–4) are ever sent', (fc) => {
    let err: ConfigError | undefined;
    try {
      loadProfile({ ...base(), registers: [{ ...base().registers[0], fc }] });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.code).toBe('GW_ERR_PROFILE_INVALID');
    expect(err!.issues).toEqual([`registers[0].fc: function code ${JSON.stringify(fc)} is not allowed: the agent only sends read function codes 1–4`]);
  });

  it('lists every problem of a profile with its path', () => {
    const doc = {
      id: 'acme',
      vendor: 'ACME', // unknown key
      registers: [
        { quantity: 'ua', address: 0, fc: 3, type: 'float32' },
        { quantity: 'ua', address: 2, fc: 3, type: 'float32' }, // duplicate quantity
        { quantity: 'voltage', address: 4, fc: 3, type: 'float32' }, // not canonical
        { quantity: 'load_rate', address: 6, fc: 3, type: 'float32' }, // derived by the server
        { quantity: 'ia', address: 65535, fc: 4, type: 'int32' }, // runs past the end
        { quantity: 'door', address: 1, fc: 3, type: 'bool' }, // bool needs 1/2
        { quantity: 'water', address: 1, fc: 2, type: 'uint16' }, // bits must be bool
        { quantity: 'ib', address: 8, fc: 16, type: 'float32', wordOrder: 'BADC', scale: 0 },
      ],
    };
    let err: ConfigError | undefined;
    try {
      loadProfile(doc);
    } catch (e) {
      err = e as ConfigError;
    }
    const lines = err!.issues;
    const expected = [
      /^vendor: unknown key$/,
      /^registers\[1\]\.quantity: "ua" is already read by registers\[0\]$/,
      /^registers\[2\]\.quantity: "voltage" is not a canonical quantity/,
      /^registers\[3\]\.quantity: "load_rate" is not a canonical quantity/,
      /^registers\[4\]\.address: a int32 at 65535 runs past/,
      /^registers\[5\]\.type: bool needs function code 1 or 2/,
      /^registers\[6\]\.type: function code 2 reads bits/,
      /^registers\[7\]\.fc: function code 16 is not allowed/,
      /^registers\[7\]\.wordOrder: /,
      /^registers\[7\]\.scale: scale must be a finite, non-zero number$/,
    ];
    for (const re of expected) expect(lines.some((l) => re.test(l)), `no issue matching ${re}\n${lines.join('\n')}`).toBe(true);
    expect(lines).toHaveLength(expected.length);
  });
});
