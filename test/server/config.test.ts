import { describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv, loadServerConfig, topologyFromYaml } from '../../server/index.ts';

describe('server configuration', () => {
  it('gives every default on an empty config, frozen', () => {
    const c = loadServerConfig({});
    expect(c.http.port).toBe(8080);
    expect(c.mqtt.url).toBeUndefined();
    expect(c.influx).toBeUndefined();
    expect(Object.isFrozen(c.http)).toBe(true);
  });

  it('lists every error at once, each with its path', () => {
    let err: ConfigError | undefined;
    try {
      loadServerConfig({ http: { port: 'eighty' }, influx: { apiVersion: 3 }, bogus: 1, live: { maxFps: -1 } });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.code).toBe('GW_ERR_CONFIG_INVALID');
    const text = err!.issues.join('\n');
    expect(text).toMatch(/^http\.port: /m);
    expect(text).toMatch(/^influx\.url: /m);
    expect(text).toMatch(/^influx\.apiVersion: /m);
    expect(text).toMatch(/^live\.maxFps: /m);
    expect(text).toMatch(/^\(root\): .*bogus/m);
  });

  it('reads GW_* variables, numbers as numbers, a bad number reported with its path', () => {
    const raw = configFromEnv({ GW_HTTP_PORT: '9090', GW_INFLUX_URL: 'http://127.0.0.1:8086', GW_MQTT_URL: 'mqtt://b:1883' });
    const c = loadServerConfig(raw);
    expect(c.http.port).toBe(9090);
    expect(c.influx?.apiVersion).toBe(1);
    expect(() => loadServerConfig(configFromEnv({ GW_HTTP_PORT: '80a' }))).toThrow(/http\.port/);
    const ingest = loadServerConfig(configFromEnv({ GW_INGEST_BATCH_SIZE: '2000', GW_INGEST_FLUSH_MS: '20', GW_INGEST_WRITE_CONCURRENCY: '2', GW_INGEST_MAX_PENDING: '50000' })).ingest;
    expect(ingest).toMatchObject({ batchSize: 2000, flushIntervalMs: 20, writeConcurrency: 2, maxPending: 50000 });
    expect(() => loadServerConfig(configFromEnv({ GW_INGEST_FLUSH_MS: '0' }))).toThrow(/ingest\.flushIntervalMs/);
  });
});

describe('topology file', () => {
  it('reports every error with its path and the ids on the way', () => {
    const yaml = `
sites:
  - id: s1
    name: A
    rooms:
      - id: r1
        name: R
        transformers:
          - id: t1
            name: T
            ratedKva: -5
            lines:
              - { id: l1, name: L, meter: m1 }
              - { id: l2, name: L2, meter: m1, colour: red }
`;
    let err: ConfigError | undefined;
    try {
      topologyFromYaml(yaml, 'topo.yaml');
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.code).toBe('GW_ERR_TOPOLOGY_INVALID');
    const text = err!.issues.join('\n');
    expect(text).toContain('sites[0](s1).rooms[0](r1).transformers[0](t1).ratedKva');
    expect(text).toContain('lines[1](l2)');
  });

  it('rejects a device that appears twice', () => {
    const yaml = `
sites:
  - id: s1
    name: A
    rooms:
      - id: r1
        name: R
        transformers:
          - id: t1
            name: T
            ratedKva: 630
            meter: m1
            lines:
              - { id: l1, name: L, meter: m1 }
`;
    expect(() => topologyFromYaml(yaml)).toThrow(/duplicate device id "m1"/);
  });

  it('rejects YAML that does not parse, with a clear message', () => {
    expect(() => topologyFromYaml('sites: [\n  - {')).toThrow(/YAML/);
  });
});
