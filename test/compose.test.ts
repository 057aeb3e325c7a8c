/**
 * docker-compose.yml cannot be run here (no Docker engine), so it is checked
 * statically: every service wired, every variable one the server reads and
 * valid for its schema, every file it names present in the repository. The
 * profile "cluster" likewise: its NATS node files parse
 * (nats-server itself checks them) and name each other's routes and the
 * mapping the servers expect, no port clashes, no password in any file; and
 * its NATS users file is run on a real nats-server to check the agents' rights.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadAgentConfig } from '../edge-agent/index.ts';
import { ENV_MAP, configFromEnv, loadServerConfig, loadTopologyFile } from '../server/index.ts';
import { SERVER_STATE_TOPIC, agentStateTopic, callTopic, readingsTopic, watermarkTopic } from '../contract/index.ts';
import { partitionOf } from '../server/cluster/partition.ts';
import { natsMappings } from './harness/cluster.ts';
import { distinctFreePorts, startService, type ServiceHandle } from './harness/services.ts';
import { until } from './support/until.ts';

interface Service {
  image?: string;
  build?: string;
  profiles?: string[];
  hostname?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: string[];
  ports?: string[];
}

// merge keys (`<<: *nats`) as Compose reads them
const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};

describe('docker-compose.yml', () => {
  it('has Mosquitto, InfluxDB, the server and an edge agent, and by default only these and the meter simulator', () => {
    const byDefault = Object.entries(compose.services).filter(([, s]) => !s.profiles?.length).map(([n]) => n);
    expect(byDefault.sort()).toEqual(['edge-agent', 'influxdb', 'meter-sim', 'mosquitto', 'server']);
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

/** The files a service mounts from the repository, by their path inside the container. */
function mounts(s: Service): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of s.volumes ?? []) {
    const [src, target] = v.split(':') as [string, string];
    if (src.startsWith('./')) out.set(target, src.slice(2));
  }
  return out;
}

/** What docker-compose.yml gives a service for `${VAR:-}`: the variable's name (the value comes from .env). */
const interpolated = (v: string) => /^\$\{([A-Z0-9_]+)(:-)?\}$/.exec(v)?.[1] ?? null;

/** The parts of a NATS node file the cluster depends on. */
function natsNode(file: string): { name: string; cluster: string; routes: string[]; mappings: string; client: number; mqtt: number; route: number; storeDir: string } {
  const text = readFileSync(file, 'utf8');
  const one = (re: RegExp) => {
    const m = re.exec(text);
    expect(m, `${file}: ${re}`).not.toBeNull();
    return m![1]!;
  };
  return {
    name: one(/^server_name:\s*(\S+)$/m),
    cluster: one(/cluster \{[^}]*\bname:\s*(\S+)/),
    routes: one(/routes:\s*\[([^\]]*)\]/)
      .split(',')
      .map((r) => r.trim()),
    mappings: one(/^(mappings = \{[\s\S]*?^\})/m),
    client: Number(one(/^listen:\s*[\d.]+:(\d+)$/m)),
    mqtt: Number(one(/mqtt \{\s*listen:\s*[\d.]+:(\d+)/)),
    route: Number(one(/cluster \{[^}]*\blisten:\s*[\d.]+:(\d+)/)),
    storeDir: one(/store_dir:\s*"([^"]+)"/),
  };
}

describe('docker-compose.yml, profile "cluster"', () => {
  const inProfile = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes('cluster'));
  const named = (re: RegExp) => inProfile.filter(([n]) => re.test(n));
  const natsServices = named(/^nats-\d$/);
  const servers = named(/^gridwatch-\d$/);
  const env = { GW_NATS_SERVER_PASSWORD: 'compose-test', GW_NATS_ROOM_101_PASSWORD: 'compose-test' };
  const nodeFile = (s: Service) => mounts(s).get(s.command![0]!)!;

  it('has three NATS nodes, a load balancer for the agents, two gridwatch servers and an agent; nothing by default depends on them', () => {
    expect(natsServices.map(([n]) => n)).toEqual(['nats-1', 'nats-2', 'nats-3']);
    for (const [, s] of natsServices) expect(s.image).toMatch(/^nats:2\.(9|1\d)\b/);
    expect(compose.services['nats-mqtt']?.image).toMatch(/^haproxy:/);
    expect(servers.map(([n]) => n)).toEqual(['gridwatch-1', 'gridwatch-2']);
    expect(compose.services['edge-agent-cluster']?.profiles).toEqual(['cluster']);
    const profiled = new Set(inProfile.map(([n]) => n));
    for (const [n, s] of Object.entries(compose.services)) if (!s.profiles?.length) for (const d of s.depends_on ?? []) expect(profiled.has(d), `${n} depends on ${d}`).toBe(false);
  });

  it('NATS node files exist and nats-server takes them; they name each other as routes, one cluster, one mapping', () => {
    const nodes = natsServices.map(([name, s]) => {
      const file = nodeFile(s);
      expect(existsSync(file), `${name}: ${file}`).toBe(true);
      // the included users file is mounted next to it, as the include names it
      expect([...mounts(s).values()]).toEqual(expect.arrayContaining(['config/compose/nats-users.conf', 'config/compose/nats-run.sh']));
      const r = spawnSync('nats-server', ['-t', '-c', file], { env: { ...process.env, ...env }, encoding: 'utf8' });
      expect(r.status, `${file}: ${r.stderr}`).toBe(0);
      return { service: name, ...natsNode(file) };
    });
    for (const n of nodes) {
      expect(n.name).toBe(n.service);
      const others = nodes.filter((o) => o !== n);
      expect(n.routes.sort()).toEqual(others.map((o) => `nats-route://${o.service}:${o.route}`).sort());
      expect(n.cluster).toBe(nodes[0]!.cluster);
      expect(n.mappings).toBe(nodes[0]!.mappings);
    }
    // each node's JetStream store on its own named volume
    for (const [name, s] of natsServices) {
      const store = nodes.find((n) => n.service === name)!.storeDir;
      const vol = (s.volumes ?? []).map((v) => v.split(':')).find(([src, target]) => !src!.startsWith('.') && store.startsWith(target!));
      expect(vol, `${name}: a volume for ${store}`).toBeDefined();
      expect(compose.volumes).toHaveProperty(vol![0]!);
    }
    expect(new Set(natsServices.map(([, s]) => (s.volumes ?? []).find((v) => !v.startsWith('.'))))).toHaveProperty('size', 3);
  });

  it("a node without its passwords is refused: by nats-server, and before it by the start script", () => {
    const file = nodeFile(natsServices[0]![1]);
    const bare = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GW_NATS_')));
    const parsed = spawnSync('nats-server', ['-t', '-c', file], { env: bare, encoding: 'utf8' });
    expect(parsed.status).not.toBe(0);
    expect(parsed.stderr).toContain('GW_NATS_SERVER_PASSWORD');
    // an empty one (compose's `${VAR:-}` when .env lacks it) would be a user without a password
    const run = spawnSync('sh', ['config/compose/nats-run.sh', file], { env: { ...bare, GW_NATS_SERVER_PASSWORD: '', GW_NATS_ROOM_101_PASSWORD: 'x' }, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('refusing to start: set GW_NATS_SERVER_PASSWORD in .env');
  });

  it("the servers' configuration passes their schema and matches the nodes: URLs, MQTT gateways, partitions equal to the mapping's", async () => {
    const nodes = natsServices.map(([name, s]) => ({ service: name, ...natsNode(nodeFile(s)) }));
    for (const [name, s] of servers) {
      const known = new Set(ENV_MAP.map(([n]) => n));
      for (const k of Object.keys(s.environment ?? {})) expect(known.has(k), `${name}: ${k}`).toBe(true);
      const file = s.command!.find((c) => c.endsWith('.yaml'))!.replace(/^\/app\//, '');
      const values = Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolated(v) ? 'from-env' : v]));
      const cfg = loadServerConfig(configFromEnv(values, parse(readFileSync(file, 'utf8')) as Record<string, unknown>));
      const cluster = cfg.cluster!;
      expect(cluster.nats.servers).toEqual(nodes.map((n) => `nats://${n.service}:${n.client}`));
      expect(cluster.mqttUrls).toEqual(nodes.map((n) => `mqtt://${n.service}:${n.mqtt}`));
      expect(cluster.nats.pass).toBe('from-env');
      expect(cfg.mqtt.password).toBe('from-env');
      expect(cluster.stream.replicas).toBe(3);
      // the mapping every node has is the one the servers' tests run against, for the servers' partition count
      expect(nodes[0]!.mappings).toBe(natsMappings(cluster.partitions));
      expect(new URL(cfg.influx!.url).hostname).toBe('influxdb');
      expect(cfg.influx!.database).not.toBe(compose.services.server!.environment!.GW_INFLUX_DATABASE);
      expect((await loadTopologyFile(cfg.topologyFile!.replace(/^\/app\//, ''))).devices.size).toBeGreaterThan(0);
      expect(s.depends_on).toEqual(expect.arrayContaining([...natsServices.map(([n]) => n), 'influxdb']));
    }
    // a server's id is its host name and PID: distinct host names, distinct ids
    expect(new Set(servers.map(([, s]) => s.hostname)).size).toBe(servers.length);
  });

  it('the agent reaches every node through the load balancer, with its spool on a named volume', () => {
    const nodes = natsServices.map(([name, s]) => ({ service: name, ...natsNode(nodeFile(s)) }));
    const agent = compose.services['edge-agent-cluster']!;
    const file = agent.command!.find((c) => c.endsWith('.yaml'))!.replace(/^\/app\//, '');
    const config = loadAgentConfig(parse(readFileSync(file, 'utf8')));
    const url = new URL(config.mqtt.url);
    expect(url.hostname).toBe('nats-mqtt');
    const lb = readFileSync(mounts(compose.services['nats-mqtt']!).get('/usr/local/etc/haproxy/haproxy.cfg')!, 'utf8');
    expect(lb).toMatch(new RegExp(`^\\s*bind :${url.port}$`, 'm'));
    const backends = [...lb.matchAll(/^\s*server (\S+) (\S+):(\d+)/gm)].map((m) => `${m[2]}:${m[3]}`);
    expect(backends).toEqual(nodes.map((n) => `${n.service}:${n.mqtt}`));
    expect(config.devices.every((d) => d.transport.kind === 'tcp' && d.transport.host === 'meter-sim')).toBe(true);
    const spool = (agent.volumes ?? []).map((v) => v.split(':')).find(([, t]) => config.spool!.dir.startsWith(t!));
    expect(spool && compose.volumes).toHaveProperty(spool![0]!);
    expect(spool![0]).not.toBe((compose.services['edge-agent']!.volumes ?? [])[0]!.split(':')[0]);
  });

  it('no host port is published twice, with every profile on', () => {
    const published = Object.entries(compose.services).flatMap(([n, s]) => (s.ports ?? []).map((p) => ({ n, host: p.split(':').slice(0, -1).join(':') })));
    const hosts = published.map((p) => p.host);
    expect(hosts.length).toBeGreaterThan(3);
    expect(hosts.filter((h, i) => hosts.indexOf(h) !== i), JSON.stringify(published)).toEqual([]);
  });

  it('writes no password: they come from .env, and every one the NATS users file names is handed to the nodes', () => {
    const users = readFileSync('config/compose/nats-users.conf', 'utf8');
    const refs = [...users.matchAll(/\bpassword:\s*(\S+?),?\s/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(1);
    for (const r of refs) expect(r, 'a password in nats-users.conf').toMatch(/^\$GW_[A-Z0-9_]+$/);
    const vars = refs.map((r) => r.slice(1));
    const script = readFileSync('config/compose/nats-run.sh', 'utf8');
    for (const [name, s] of natsServices) {
      expect(s.entrypoint).toEqual(['sh', '/etc/nats/nats-run.sh']);
      for (const v of vars) {
        expect(interpolated(s.environment?.[v] ?? ''), `${name}: ${v}`).toBe(v);
        expect(script, `nats-run.sh checks ${v}`).toMatch(new RegExp(`\\b${v}\\b`));
      }
    }
    for (const [name, s] of inProfile)
      for (const [k, v] of Object.entries(s.environment ?? {})) if (/PASSWORD|SECRET|TOKEN/.test(k)) expect(interpolated(v), `${name}: ${k}`).not.toBeNull();
    for (const f of ['config/compose/server-cluster.yaml', 'config/compose/agent-cluster.yaml']) {
      const doc = JSON.stringify(parse(readFileSync(f, 'utf8')));
      expect(doc, f).not.toMatch(/"(password|pass|token|secret)":/i);
    }
  });
});

/**
 * The users file on a real nats-server (one node of the profile, moved to
 * loopback ports and alone: no routes, one replica), its passwords defined as
 * variables in the file: the agent's rights are what the gateway enforces.
 */
describe('config/compose/nats-users.conf on a real nats-server', () => {
  const pw = { server: 'compose-server-pw', agent: 'compose-agent-pw' };
  let node: ServiceHandle;
  let nats: NatsConnection;
  let mqttUrl = '';
  const clients: MqttClient[] = [];
  beforeAll(async () => {
    const [client, gateway, monitor] = await distinctFreePorts(3);
    mqttUrl = `mqtt://127.0.0.1:${gateway}`;
    const users = readFileSync('config/compose/nats-users.conf', 'utf8');
    node = await startService(
      {
        name: 'nats-server',
        portCount: 3,
        ports: [client!, gateway!, monitor!],
        url: (port) => `nats://127.0.0.1:${port}`,
        config: (dir) =>
          [`GW_NATS_SERVER_PASSWORD: "${pw.server}"`, `GW_NATS_ROOM_101_PASSWORD: "${pw.agent}"`, readFileSync('config/compose/nats-1.conf', 'utf8')]
            .join('\n')
            .replace(/^listen: .*$/m, `listen: 127.0.0.1:${client}`)
            .replace(/^http: .*$/m, `http: 127.0.0.1:${monitor}`)
            .replace(/store_dir: "[^"]*"/, `store_dir: ${JSON.stringify(`${dir}/js`)}`)
            .replace(/mqtt \{ listen: [^,]*, stream_replicas: 3 \}/, `mqtt { listen: 127.0.0.1:${gateway}, stream_replicas: 1 }`)
            .replace(/^cluster \{[\s\S]*?^\}$/m, '')
            .replace(/^include \.\/nats-users\.conf$/m, users),
        args: (file) => ['-c', file],
        readyLog: () => /Server is ready/,
        probe: async (url) => {
          const nc = await connect({ servers: url, user: 'gridwatch-server', pass: pw.server, reconnect: false }).catch(() => null);
          await nc?.close();
          return nc !== null;
        },
      },
      {},
    );
    nats = await connect({ servers: node.url, user: 'gridwatch-server', pass: pw.server });
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.end(true);
    await nats?.close();
    await node?.stop();
  });
  const mqttAs = async (username: string, password: string, clientId = username) => {
    const c = await mqtt.connectAsync(mqttUrl, { clientId, username, password, clean: true, protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  };

  it("an agent's readings, call and presence reach the servers' subjects; another agent's readings and watermark are refused", async () => {
    const seen: string[] = [];
    const sub = nats.subscribe('>');
    void (async () => {
      for await (const m of sub) seen.push(m.subject);
    })();
    await nats.flush();
    const agent = await mqttAs('room-101', pw.agent);
    const granted = await agent.subscribeAsync([watermarkTopic('room-101'), SERVER_STATE_TOPIC], { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1, 1]);
    await expect(agent.subscribeAsync(watermarkTopic('room-102'), { qos: 1 })).rejects.toThrow(/Subscribe error/);
    await agent.publishAsync(readingsTopic('cd-east', 'room-101'), '{"own":1}', { qos: 1 });
    await agent.publishAsync(callTopic('cd-east'), '{"call":1}', { qos: 1 });
    await agent.publishAsync(agentStateTopic('room-101'), 'online', { qos: 1, retain: true });
    // acknowledged by the gateway (it says nothing of a refused publish), never delivered
    await agent.publishAsync(readingsTopic('cd-east', 'room-102'), '{"forged":1}', { qos: 1 });
    const own = `gw.r.${partitionOf('room-101', 16)}.cd-east.room-101`;
    await until(() => [own, `gw.c.${partitionOf('cd-east', 16)}.cd-east`, 'gridwatch.v1.agent.room-101.state'].filter((s) => !seen.includes(s)), 10_000, "the agent's messages at the servers");
    // the server's watermark reaches the agent
    const got = new Promise<string>((r) => agent.once('message', (t, p) => r(`${t} ${p}`)));
    const server = await mqttAs('gridwatch-server', pw.server, 'gw-compose-test');
    await server.publishAsync(watermarkTopic('room-101'), '{"seq":1}', { qos: 0, retain: true });
    expect(await got).toBe(`${watermarkTopic('room-101')} {"seq":1}`);
    await nats.flush();
    expect(seen.filter((s) => s.includes('room-102'))).toEqual([]);
  }, 30_000);

  it('an agent is refused on the NATS protocol and with a wrong password', async () => {
    await expect(connect({ servers: node.url, user: 'room-101', pass: pw.agent, reconnect: false })).rejects.toThrow(/Authorization Violation/);
    await expect(mqttAs('room-101', 'wrong')).rejects.toThrow(/Not authorized/);
  }, 30_000);
});
