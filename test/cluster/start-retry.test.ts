/**
 * A server started while JetStream has no quorum (two of three nodes still
 * down, as when a whole site boots at once) keeps asking for its streams and
 * buckets instead of exiting, and starts once the nodes are back.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startNatsCluster } from '../harness/index.ts';
import { ClusterServer, clusterTopology, leaseOwners, readingsTap, sleep, until } from './support.ts';

const influxUrl = inject('influxUrl');
const uid = randomBytes(3).toString('hex');
const PARTITIONS = 2;

describe('cluster server start while JetStream has no quorum', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('waits for the cluster to answer, then starts and takes the partitions', async () => {
    const cluster = await startNatsCluster({ partitions: PARTITIONS });
    cleanups.push(() => cluster.stop());
    await cluster.ready();
    await cluster.nodes[1]!.service.kill();
    await cluster.nodes[2]!.service.kill();

    const site = `sr-${uid}`;
    const ids = [{ agent: `${site}-a0`, meters: [`${site}-a0-m0-1`] }];
    const server = await ClusterServer.create({ cluster, serverId: 'gw1', influxUrl, database: `gw_startretry_${uid}`, topologyYaml: clusterTopology(site, ids), rulesYaml: 'version: 1\nuseDefaults: true\n' });
    cleanups.push(() => server.close());
    let exited = false;
    const starting = server.start(120_000).catch((err: unknown) => {
      exited = true;
      throw err;
    });
    starting.catch(() => undefined);
    await until(() => (server.logs.some((l) => l.msg === 'the NATS cluster did not answer at start; asked again') ? [] : ['no retry logged yet: ' + server.logs.slice(-5).map((l) => JSON.stringify(l).slice(0, 300)).join(' | ')]), 30_000, 'set-up asked again');
    expect(exited).toBe(false);

    await Promise.all([cluster.nodes[1]!.service.restart(), cluster.nodes[2]!.service.restart()]);
    await starting;
    const tap = await readingsTap(cluster);
    cleanups.push(() => tap.close());
    await until(async () => ((await leaseOwners(tap.nc, PARTITIONS)).every((o) => o === 'gw1') ? [] : ['not every partition on gw1']), 30_000, 'partitions taken');
    await sleep(0);
  }, 150_000);
});
