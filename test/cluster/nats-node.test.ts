/**
 * A NATS node killed with SIGKILL under load: the agents connected through
 * it reconnect to another node (through a TCP front, as behind a load
 * balancer), the server's NATS and MQTT connections move to the others, the
 * stream and the leases keep their quorum, and no reading sent is missing
 * from the store: what the node's gateway acknowledged but could not put in
 * the stream while it elected a new leader is resent by the agents once
 * their watermark stalls (5 s here, support.ts).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startNatsCluster } from '../harness/index.ts';
import { ClusterServer, clusterTopology, leaseOwners, mqttFront, readingsTap, sleep, startAgents, storedKeys, until } from './support.ts';

const influxUrl = inject('influxUrl');
const uid = randomBytes(3).toString('hex');
const PARTITIONS = 4;

describe('NATS node failure', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('agents and the server move to the other nodes; no reading is missing', async () => {
    const cluster = await startNatsCluster({ partitions: PARTITIONS });
    cleanups.push(() => cluster.stop());
    const site = `nn-${uid}`;
    const database = `gw_natsnode_${uid}`;
    const tap = await readingsTap(cluster);
    cleanups.push(() => tap.close());
    const fleet = { count: 4, meters: 5 };
    const ids = Array.from({ length: fleet.count }, (_, i) => ({ agent: `${site}-a${i}`, meters: Array.from({ length: fleet.meters }, (_, u) => `${site}-a${i}-m0-${u + 1}`) }));
    const server = await ClusterServer.create({ cluster, serverId: 'gw1', influxUrl, database, topologyYaml: clusterTopology(site, ids), rulesYaml: 'version: 1\nuseDefaults: true\n' });
    cleanups.push(() => server.close());
    if (process.env.GW_TEST_LOG) cleanups.push(() => console.log(server.logs.filter((l) => (l.level as number) >= 40 || l.component === 'cluster' || l.component === 'ingest').slice(-120).map((l) => JSON.stringify(l).slice(0, 400)).join('\n')));
    await server.start();
    await until(async () => ((await leaseOwners(tap.nc, PARTITIONS)).every((o) => o === 'gw1') ? [] : ['not every partition on gw1']), 20_000, 'leases');
    // every agent on node 1 first: the node killed below
    const front = await mqttFront(cluster.mqttUrls);
    cleanups.push(() => front.close());
    const agents = await startAgents({ cluster, site, prefix: site, count: fleet.count, meters: fleet.meters, intervalMs: 500, mqttUrl: front.url });
    cleanups.push(() => agents.stop());
    await until(async () => ((await storedKeys(influxUrl, database, site)).size < 40 ? ['fewer than 40 stored'] : []), 20_000, 'readings flowing');
    await sleep(2000);

    expect(agents.agents.every((a) => a.agent.stats().uplink.connected)).toBe(true);
    const connectsBefore = agents.agents.map((a) => a.agent.stats().uplink.connects);
    await cluster.nodes[0]!.service.kill();
    // the agents lose their connection and come back through the front to node 2 or 3
    await sleep(3000);
    await until(
      () => agents.agents.filter((a, i) => !a.agent.stats().uplink.connected || a.agent.stats().uplink.connects <= connectsBefore[i]!).map((a) => `${a.id} not reconnected`),
      30_000,
      'agents reconnected to another node',
    );
    await sleep(4000);

    const cutoff = Date.now() - 2000;
    const seqs = agents.agents.map((a) => a.agent.stats().seq - 1);
    await until(() => agents.agents.flatMap((a, i) => (a.agent.stats().uplink.watermark >= seqs[i]! ? [] : [`${a.id}: watermark ${a.agent.stats().uplink.watermark} < ${seqs[i]}`])), 40_000, 'watermarks');
    const stored = await storedKeys(influxUrl, database, site);
    const sent = [...tap.sent].filter((k) => Number(k.split('@')[1]) < cutoff);
    expect(sent.length).toBeGreaterThan(150);
    expect(sent.filter((k) => !stored.has(k))).toEqual([]);
  }, 150_000);
});
