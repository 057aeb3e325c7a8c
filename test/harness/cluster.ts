/**
 * A private 3-node NATS cluster for the cluster-mode tests: nats-server 2.9
 * nodes on loopback, each with JetStream (file store in its own throw-away
 * directory), the MQTT gateway and the subject mapping that partitions the
 * agents' readings (`gw.r.<partition>.<site>.<agent>`) and the sites' calls
 * (`gw.c.<partition>.<site>`). Built on the generic service of services.ts:
 * the same child tracking, watchdog and cleanup.
 */
import mqtt from 'mqtt';
import { distinctFreePorts, startService, type BinaryOptions, type ServiceHandle } from './services.ts';

export interface NatsNode {
  readonly name: string;
  /** nats://127.0.0.1:PORT */
  readonly natsUrl: string;
  /** mqtt://127.0.0.1:PORT of the node's MQTT gateway */
  readonly mqttUrl: string;
  /** http://127.0.0.1:PORT of the node's monitoring endpoint */
  readonly monitorUrl: string;
  readonly service: ServiceHandle;
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** every node's client URL: what a gridwatch server's `cluster.nats.servers` lists */
  readonly natsUrls: string[];
  readonly mqttUrls: string[];
  readonly partitions: number;
  /** Resolves once a JetStream meta leader is elected and every running node knows it. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsClusterOptions extends BinaryOptions {
  /** nodes, default 3 */
  size?: number;
  /** partitions of the readings subject mapping, default 4 */
  partitions?: number;
  /** nodes do not tell clients the other nodes' addresses (`no_advertise`): a client reaches only the URLs it was given */
  noAdvertise?: boolean;
}

/** The subject mapping the server's cluster mode expects (docs/cluster.md shows the same). */
export function natsMappings(partitions: number): string {
  return [
    'mappings = {',
    `  "gridwatch.v1.*.*.readings": "gw.r.{{partition(${partitions},2)}}.{{wildcard(1)}}.{{wildcard(2)}}"`,
    `  "gridwatch.v1.*.call": "gw.c.{{partition(${partitions},1)}}.{{wildcard(1)}}"`,
    '}',
  ].join('\n');
}

export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const partitions = opts.partitions ?? 4;
  // client, mqtt, route, monitor per node: every node's route port is in every node's config
  const ports = await distinctFreePorts(size * 4);
  const portsOf = (i: number) => ports.slice(i * 4, i * 4 + 4) as [number, number, number, number];
  const routes = Array.from({ length: size }, (_, i) => `nats-route://127.0.0.1:${portsOf(i)[2]}`);
  const started = await Promise.allSettled(
    Array.from({ length: size }, (_, i) => {
      const name = `n${i + 1}`;
      const [client, mqttPort, route, monitor] = portsOf(i);
      return startService(
        {
          name: 'nats-server',
          portCount: 4,
          ports: portsOf(i),
          url: (port) => `nats://127.0.0.1:${port}`,
          config: (dir) =>
            [
              `server_name: ${name}`,
              `listen: 127.0.0.1:${client}`,
              `http: 127.0.0.1:${monitor}`,
              `jetstream { store_dir: ${JSON.stringify(`${dir}/js`)}, max_memory_store: 64MB, max_file_store: 2GB }`,
              // the gateway's sessions and retained messages on every node: one node lost keeps their quorum
              `mqtt { listen: 127.0.0.1:${mqttPort}, stream_replicas: ${Math.min(3, size)} }`,
              `cluster { name: gw; listen: 127.0.0.1:${route}; routes: [${routes.filter((_, j) => j !== i).join(', ')}]${opts.noAdvertise ? '; no_advertise: true' : ''} }`,
              natsMappings(partitions),
              '',
            ].join('\n'),
          args: (file) => ['-c', file],
          readyLog: () => /Server is ready/,
          // the monitoring endpoint answers once listeners are up; JetStream readiness is `ready()`
          probe: async () => {
            try {
              const res = await fetch(`http://127.0.0.1:${monitor}/varz`, { signal: AbortSignal.timeout(2000) });
              await res.arrayBuffer();
              return res.ok;
            } catch {
              return false;
            }
          },
        },
        opts,
      ).then(
        (service): NatsNode => ({
          name,
          natsUrl: `nats://127.0.0.1:${client}`,
          mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
          monitorUrl: `http://127.0.0.1:${monitor}`,
          service,
        }),
      );
    }),
  );
  const nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (nodes.length < size) {
    await Promise.all(nodes.map((n) => n.service.stop()));
    const errors = started.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    throw errors.length === 1 ? errors[0] : new AggregateError(errors, 'harness: NATS cluster failed to start');
  }
  const cluster: NatsCluster = {
    nodes,
    natsUrls: nodes.map((n) => n.natsUrl),
    mqttUrls: nodes.map((n) => n.mqttUrl),
    partitions,
    async ready(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const healthy = await Promise.all(
          nodes.map(async (n) => {
            try {
              const res = await fetch(`${n.monitorUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
              await res.arrayBuffer();
              return res.ok;
            } catch {
              return false; // a node killed by the test counts as not healthy: only running ones are asked below
            }
          }),
        );
        const alive = await Promise.all(nodes.map((n) => fetch(`${n.monitorUrl}/varz`, { signal: AbortSignal.timeout(2000) }).then((r) => (void r.arrayBuffer(), true), () => false)));
        // each node's MQTT gateway makes its JetStream consumers on its first client: done here, not in a test's first connect
        if (alive.some(Boolean) && alive.every((a, i) => !a || healthy[i]) && (await Promise.all(nodes.map((n, i) => !alive[i] || mqttConnects(n.mqttUrl)))).every(Boolean)) return;
        if (Date.now() > deadline) throw new Error(`NATS cluster not ready within ${timeoutMs} ms:\n${nodes.map((n) => `${n.name}:\n${n.service.logTail(15)}`).join('\n')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.service.stop()));
    },
  };
  try {
    await cluster.ready();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Whether an MQTT client gets a CONNACK from `url` within 5 s. */
async function mqttConnects(url: string): Promise<boolean> {
  const client = mqtt.connect(url, { clientId: `gw-harness-nats-probe-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, clean: true });
  try {
    return await new Promise<boolean>((resolve) => {
      client.once('connect', () => resolve(true));
      client.once('error', () => resolve(false));
      client.once('close', () => resolve(false));
    });
  } finally {
    client.end(true);
  }
}
