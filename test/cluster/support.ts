/**
 * Drivers for the cluster tests: gridwatch servers in cluster mode as child
 * processes (so they can be SIGKILLed), real edge agents (the library, in
 * this process) polling Modbus simulators and publishing to a NATS node's
 * MQTT gateway, and a NATS tap that records every reading published.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { parseReadingsPayload } from '../../contract/index.ts';
import { createAgent, loadAgentConfig, type Agent } from '../../edge-agent/index.ts';
import type { ModbusSimulator } from '../../simulators/index.ts';
import { influxQuery, type NatsCluster } from '../harness/index.ts';
import { TEST_PASSWORD } from '../support/server.ts';
import { ServerProcess } from '../support/server-process.ts';
import { memoryLog } from '../support/logger.ts';
import { gatewayDevices, startGateways } from '../edge-agent/support.ts';


export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export { until } from '../support/until.ts';

/** One site, one room per agent, each meter on its own line of the room's transformer. */
export function clusterTopology(site: string, agents: readonly { agent: string; meters: readonly string[] }[]): string {
  const rooms = agents
    .map(
      (a, i) => `      - id: r${i + 1}
        name: Room ${i + 1}
        agent: ${a.agent}
        transformers:
          - id: t${i + 1}
            name: "${i + 1}#"
            ratedKva: 400
            lines:
${a.meters.map((m, j) => `              - { id: l${i + 1}-${j + 1}, name: L${j + 1}, ratedCurrentA: 200, meter: ${m} }`).join('\n')}`,
    )
    .join('\n');
  return `
sites:
  - id: ${site}
    name: Cluster test
    rooms:
${rooms}
`;
}

export interface ClusterServerOptions {
  cluster: NatsCluster;
  serverId: string;
  influxUrl: string;
  database: string;
  topologyYaml: string;
  rulesYaml: string;
  leaseTtlMs?: number;
  renewMs?: number;
  /** further top-level configuration sections (risk, notify, …) */
  extra?: Record<string, unknown>;
}

/** A gridwatch server in cluster mode: `server/main.ts <config>` as a child process (ServerProcess). */
export class ClusterServer extends ServerProcess {
  private constructor(
    readonly id: string,
    dir: string,
    configFile: string,
  ) {
    super(dir, configFile, `server ${id}`, 20_000);
  }

  static async create(o: ClusterServerOptions): Promise<ClusterServer> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-cluster-'));
    const topologyFile = path.join(dir, 'topology.yaml');
    const rulesFile = path.join(dir, 'rules.yaml');
    await writeFile(topologyFile, o.topologyYaml);
    await writeFile(rulesFile, o.rulesYaml);
    const config = {
      http: { host: '127.0.0.1', port: 0 },
      mqtt: { clientId: `gw-${o.serverId}` },
      influx: { url: o.influxUrl, database: o.database },
      cluster: {
        nats: { servers: o.cluster.natsUrls },
        mqttUrls: o.cluster.mqttUrls,
        serverId: o.serverId,
        partitions: o.cluster.partitions,
        leaseTtlMs: o.leaseTtlMs ?? 4000,
        renewMs: o.renewMs ?? 1000,
        ackWaitMs: 30_000,
      },
      dataDir: dir,
      topologyFile,
      auth: { adminPassword: TEST_PASSWORD },
      rules: { file: rulesFile },
      ingest: { flushIntervalMs: 20 },
      alarms: { tickMs: 200, persistIntervalMs: 500 },
      priority: os.getPriority(),
      ...o.extra,
    };
    const configFile = path.join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(config));
    return new ClusterServer(o.serverId, dir, configFile);
  }
}

/** Owner of each partition's lease (null: none), read from the cluster's KV bucket. */
export async function leaseOwners(nc: NatsConnection, partitions: number): Promise<(string | null)[]> {
  const kv = await nc.jetstream().views.kv('gridwatch_leases');
  const out: (string | null)[] = [];
  for (let p = 0; p < partitions; p++) {
    const e = await kv.get(`p${p}`);
    out.push(e && e.operation === 'PUT' ? new TextDecoder().decode(e.value) : null);
  }
  return out;
}

/**
 * Records every reading published on the cluster (a plain NATS subscription
 * to the mapped readings subjects), as `device@ts`.
 */
export async function readingsTap(cluster: NatsCluster): Promise<{ nc: NatsConnection; sent: Set<string>; close(): Promise<void> }> {
  const nc = await connect({ servers: cluster.natsUrls, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const sent = new Set<string>();
  const sub = nc.subscribe('gw.r.>');
  void (async () => {
    for await (const m of sub) {
      const agent = m.subject.split('.')[4];
      const r = parseReadingsPayload(m.data, agent);
      if (r.ok) for (const x of r.value.readings) sent.add(`${x.device}@${x.ts}`);
    }
  })();
  return { nc, sent, close: () => nc.close() };
}

/** Every stored reading of a site, as `device@ts`. */
export async function storedKeys(influxUrl: string, db: string, site: string): Promise<Set<string>> {
  const res = await influxQuery(influxUrl, db, `SELECT "quality" FROM "reading" WHERE "site" = '${site}' GROUP BY "device"`);
  const out = new Set<string>();
  for (const s of res[0]?.series ?? []) for (const v of s.values) out.add(`${s.tags?.device ?? ''}@${v[0] as number}`);
  return out;
}

export interface TestAgent {
  agent: Agent;
  id: string;
  meters: string[];
}

/**
 * `count` edge agents, each with one simulated gateway of `meters` meters
 * polled every `intervalMs`, publishing to the MQTT gateways of the cluster
 * (agent i to node i mod 3), or all to `mqttUrl`.
 */
export async function startAgents(o: { cluster: NatsCluster; site: string; prefix: string; count: number; meters: number; intervalMs: number; mqttUrl?: string }): Promise<{ agents: TestAgent[]; sims: ModbusSimulator[]; stop(): Promise<void> }> {
  const sims = await startGateways(o.count, o.meters, 7);
  const agents: TestAgent[] = [];
  for (let i = 0; i < o.count; i++) {
    const id = `${o.prefix}-a${i}`;
    const devices = gatewayDevices([sims[i]!], o.meters, { intervalMs: o.intervalMs }).map((d) => ({ ...d, id: `${id}-${d.id}` }));
    const config = loadAgentConfig({
      agent: id,
      site: o.site,
      mqtt: { url: o.mqttUrl ?? o.cluster.mqttUrls[i % o.cluster.mqttUrls.length]!, reconnectPeriodMs: 250, reconnectMaxMs: 1000, keepaliveS: 5 },
      publishIntervalMs: 250,
      // a NATS node lost drops what its gateway acknowledged while the stream elects a leader: resent once the watermark stalls
      watermarkStallMs: 5000,
      devices,
    });
    const agent = createAgent(config, { log: memoryLog('warn').log });
    agents.push({ agent, id, meters: devices.map((d) => d.id) });
  }
  await Promise.all(agents.map((a) => a.agent.start()));
  return {
    agents,
    sims,
    async stop() {
      await Promise.all(agents.map((a) => a.agent.stop().catch(() => undefined)));
      await Promise.all(sims.map((s) => s.stop()));
    },
  };
}

/**
 * A TCP front for the nodes' MQTT gateways, as a load balancer or a DNS name
 * with several addresses gives the agents: each connection goes to the
 * first node in `targets` that accepts it.
 */
export async function mqttFront(targets: readonly string[]): Promise<{ url: string; close(): Promise<void> }> {
  const net = await import('node:net');
  const ports = targets.map((u) => Number(new URL(u).port));
  const sockets = new Set<import('node:net').Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.pause();
    const tryAt = (i: number) => {
      if (i >= ports.length) return client.destroy();
      const up = net.connect(ports[i]!, '127.0.0.1');
      up.once('error', () => tryAt(i + 1));
      up.once('connect', () => {
        sockets.add(up);
        up.removeAllListeners('error');
        const close = () => {
          client.destroy();
          up.destroy();
        };
        up.on('error', close).on('close', close);
        client.on('error', close).on('close', close);
        client.pipe(up);
        up.pipe(client);
        client.resume();
      });
    };
    tryAt(0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
