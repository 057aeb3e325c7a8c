/**
 * docker-compose.yml cannot be run here (no Docker engine), so it is checked
 * statically: every service wired, every variable one the server reads and
 * valid for its schema, every file it names present in the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadAgentConfig } from '../edge-agent/index.ts';
import { ENV_MAP, configFromEnv, loadServerConfig, loadTopologyFile } from '../server/index.ts';

const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
  services: Record<string, { image?: string; build?: string; command?: string[]; environment?: Record<string, string>; volumes?: string[]; depends_on?: string[]; ports?: string[] }>;
  volumes?: Record<string, unknown>;
};

describe('docker-compose.yml', () => {
  it('has Mosquitto, InfluxDB, the server and an edge agent', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['mosquitto', 'influxdb', 'server', 'edge-agent']));
    expect(compose.services.mosquitto!.image).toMatch(/^eclipse-mosquitto:2/);
    expect(compose.services.influxdb!.image).toMatch(/^influxdb:1\./);
  });

  it('depends only on services it defines and names only declared volumes', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const d of s.depends_on ?? []) expect(compose.services, `${name} depends on ${d}`).toHaveProperty(d);
      for (const v of s.volumes ?? []) {
        const src = v.split(':')[0]!;
        if (src.startsWith('.')) expect(existsSync(src), `${name} mounts ${src}`).toBe(true);
        else expect(compose.volumes, `${name} volume ${src}`).toHaveProperty(src);
      }
    }
  });

  it('runs entry points that exist in the repository', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.build) continue;
      expect(existsSync('Dockerfile')).toBe(true);
      const script = (s.command ?? []).find((c) => c.endsWith('.ts'));
      expect(script, `${name} command`).toBeDefined();
      expect(existsSync(script!), `${name}: ${script}`).toBe(true);
      for (const arg of s.command ?? []) {
        if (arg.startsWith('/app/')) expect(existsSync(arg.slice(5)), `${name}: ${arg}`).toBe(true);
      }
    }
  });

  it("gives the server only variables it reads, and they pass the server's schema", async () => {
    const env = compose.services.server!.environment!;
    const known = new Set(ENV_MAP.map(([n]) => n));
    for (const k of Object.keys(env)) expect(known.has(k), k).toBe(true);
    const cfg = loadServerConfig(configFromEnv(env));
    expect(cfg.mqtt.url).toBe('mqtt://mosquitto:1883');
    expect(cfg.influx?.url).toBe('http://influxdb:8086');
    expect(cfg.http.host).toBe('0.0.0.0');
    const topo = await loadTopologyFile(env.GW_TOPOLOGY_FILE!.replace(/^\/app\//, ''));
    expect(topo.devices.size).toBeGreaterThan(0);
  });

  it("keeps the edge agent's disk spool on a named volume, so store and forward survives the container", () => {
    const agent = compose.services['edge-agent']!;
    const file = (agent.command ?? []).find((c) => c.endsWith('.yaml'))!;
    const config = loadAgentConfig(parse(readFileSync(file.replace(/^\/app\//, ''), 'utf8')));
    expect(config.spool, 'the agent config has a spool').toBeDefined();
    const dir = config.spool!.dir;
    const mount = (agent.volumes ?? []).map((v) => v.split(':')).find(([, target]) => target === dir || dir.startsWith(`${target}/`));
    expect(mount, `a volume mounted at ${dir}`).toBeDefined();
    const [source] = mount!;
    // a named volume, not a path in the image or a bind mount of the repository
    expect(source!.startsWith('.') || source!.startsWith('/')).toBe(false);
    expect(compose.volumes).toHaveProperty(source!);
  });
});
