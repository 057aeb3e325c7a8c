/**
 * The private NATS cluster: three nodes with a replicated JetStream, the MQTT
 * gateway on each, the readings subject partitioned by agent, retained MQTT
 * messages across nodes, and survival of one node killed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { connect, AckPolicy, RetentionPolicy, StorageType, type NatsConnection } from 'nats';
import { startNatsCluster, type NatsCluster } from './cluster.ts';
import { partitionOf } from '../../server/cluster/partition.ts';

let cluster: NatsCluster;
let nc: NatsConnection;

beforeAll(async () => {
  cluster = await startNatsCluster({ partitions: 4 });
  nc = await connect({ servers: cluster.natsUrls });
}, 60_000);

afterAll(async () => {
  await nc?.close().catch(() => undefined);
  await cluster?.stop();
});

/** an MQTT 3.1.1 client that retries its connection like an agent does (a node's JetStream may be electing leaders) */
async function mqttClient(url: string, clientId: string) {
  const c = mqtt.connect(url, { clientId, protocolVersion: 4, reconnectPeriod: 500, connectTimeout: 5000 });
  await new Promise<void>((resolve) => c.once('connect', () => resolve()));
  return c;
}

describe('NATS cluster harness', () => {
  it('carries MQTT QoS 1 readings from any node into a 3-replica stream, partitioned by agent', async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'SMOKE', subjects: ['gw.r.>'], num_replicas: 3, storage: StorageType.File, retention: RetentionPolicy.Limits });
    const info = await jsm.streams.info('SMOKE');
    expect(info.cluster?.replicas?.length).toBe(2);
    const agents = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
    for (const [i, a] of agents.entries()) {
      const c = await mqttClient(cluster.mqttUrls[i % 3]!, `smoke-${a}`);
      await c.publishAsync(`gridwatch/v1/s1/${a}/readings`, JSON.stringify({ a }), { qos: 1 });
      await c.publishAsync(`gridwatch/v1/s1/${a}/readings`, JSON.stringify({ a, n: 2 }), { qos: 1 });
      await c.endAsync();
    }
    const deadline = Date.now() + 10_000;
    while ((await jsm.streams.info('SMOKE')).state.messages < agents.length * 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const js = nc.jetstream();
    await jsm.consumers.add('SMOKE', { durable_name: 'all', ack_policy: AckPolicy.Explicit });
    const consumer = await js.consumers.get('SMOKE', 'all');
    const seen = new Map<string, Set<string>>();
    const batch = await consumer.fetch({ max_messages: 100, expires: 2000 });
    for await (const m of batch) {
      const [, , part, site, agent] = m.subject.split('.');
      expect(site).toBe('s1');
      if (!seen.has(agent!)) seen.set(agent!, new Set());
      seen.get(agent!)!.add(part!);
      m.ack();
    }
    expect([...seen.keys()].sort()).toEqual(agents);
    // deterministic: both messages of one agent in one partition, and the partitions within range
    for (const [agent, parts] of seen) {
      expect(parts.size).toBe(1);
      // the server computes the same partition for an agent as the mapping does
      expect(Number([...parts][0])).toBe(partitionOf(agent, 4));
    }
  });

  it('keeps a retained MQTT message for a subscriber on another node, also after a node is killed', async () => {
    const pub = await mqttClient(cluster.mqttUrls[0]!, 'smoke-retain-pub');
    await pub.publishAsync('gridwatch/v1/agent/a1/watermark', '{"seq":7}', { qos: 1, retain: true });
    await pub.endAsync();
    await cluster.nodes[0]!.service.kill();
    const sub = await mqttClient(cluster.mqttUrls[2]!, 'smoke-retain-sub');
    const got = new Promise<string>((resolve) => sub.on('message', (_t, p) => resolve(p.toString())));
    // while the streams elect new leaders the gateway refuses a subscription for a moment: tried again, as clients do
    for (let attempt = 1; ; attempt++) {
      try {
        await sub.subscribeAsync('gridwatch/v1/agent/a1/watermark', { qos: 1 });
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const text = await Promise.race([got, new Promise<string>((r) => setTimeout(() => r('timeout'), 10_000))]);
    await sub.endAsync();
    expect(text).toBe('{"seq":7}');
    await cluster.nodes[0]!.service.restart();
    await cluster.ready();
  });
});
