/**
 * The risk work in a cluster: two gridwatch servers on a 3-node NATS cluster
 * with one InfluxDB, the risk runtime on a one-indicator model (one repair
 * call among a station's four customers is red) and the test SMS gateway.
 * Exactly one server holds the risk lease; a red day computed on the other
 * and again on the holder opens exactly one item with one SMS to the station
 * head; both servers list it; a follow-up posted on one is seen on the other;
 * the holder killed with SIGKILL, the other takes the lease, owes nothing, and
 * its own run of the red day opens nothing twice.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startNatsCluster } from '../harness/index.ts';
import { addDays, dayOf } from '../../server/risk/days.ts';
import { RISK_LEASE_KEY } from '../../server/risk/cluster-lease.ts';
import { POOL_TOPOLOGY } from '../outages/topology.ts';
import { TestSmsGateway } from '../support/sms-gateway.ts';
import { ClusterServer, sleep, until } from './support.ts';

const influxUrl = inject('influxUrl');
const uid = randomBytes(3).toString('hex');
const SECRET = 'risk-cluster-gateway-secret-0123456789';
const MODEL = `
version: 1
thresholds: { yellow: 14, red: 30 }
indicators:
  - { id: repair-calls-per-1000, weight: 1, good: 0, bad: 100 }
`;
const HEAD = '13900000101';
const PEOPLE = [
  { id: 'head1', name: '东区所长', phone: HEAD, roles: ['station_head'], stations: ['s1'] },
  { id: 'head2', name: '西区所长', phone: '13900000102', roles: ['station_head'], stations: ['s2'] },
];

async function holderOf(nc: NatsConnection): Promise<string | null> {
  const kv = await nc.jetstream().views.kv('gridwatch_leases');
  const e = await kv.get(RISK_LEASE_KEY);
  return e && e.operation === 'PUT' ? new TextDecoder().decode(e.value) : null;
}

type Item = { id: string; station: string; state: string; events: { kind: string; text?: string; by: string }[] };
const itemsOf = async (s: ClusterServer) => (await s.get('/api/risk/items')) as { total: number; items: Item[] };

describe('risk work in a cluster', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('one lease holder runs it: one item, one SMS, shared items and follow-ups, a takeover opens nothing twice', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-cluster-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'risk.yaml'), MODEL);
    const gateway = new TestSmsGateway({ secret: SECRET, delayMs: [1, 10], receiptDelayMs: [50, 200], failRate: 0 });
    await gateway.start();
    cleanups.push(() => gateway.stop());
    const cluster = await startNatsCluster({ partitions: 4 });
    cleanups.push(() => cluster.stop());
    const nc = await connect({ servers: cluster.natsUrls });
    cleanups.push(() => nc.close());
    const extra = {
      risk: { file: path.join(dir, 'risk.yaml'), dashboardUrl: 'https://gw.example/' },
      notify: { gateway: { url: gateway.url, account: 'gw', secret: SECRET }, retryBaseMs: 100, retryMaxMs: 500 },
    };
    const common = { cluster, influxUrl, database: `gw_riskcl_${uid}`, topologyYaml: POOL_TOPOLOGY, rulesYaml: 'version: 1\nuseDefaults: true\n', extra };
    const servers = [await ClusterServer.create({ ...common, serverId: 'gw1' }), await ClusterServer.create({ ...common, serverId: 'gw2' })];
    cleanups.push(...servers.map((s) => () => s.close()));
    // one after the other, as the other cluster tests: the JetStream of a cluster just up answers slowly on a loaded machine
    for (const s of servers) await s.start();

    let holderId: string | null = null;
    await until(async () => ((holderId = await holderOf(nc)) ? [] : ['no risk lease holder']), 20_000, 'a risk lease holder');
    const holder = servers.find((s) => s.id === holderId)!;
    const other = servers.find((s) => s.id !== holderId)!;
    // the lease stays where it is
    await sleep(1500);
    expect(await holderOf(nc)).toBe(holderId);

    const yesterday = addDays(dayOf(Date.now(), '+08:00'), -1);
    for (const s of servers) {
      await s.request('/api/contacts', { method: 'PUT', body: JSON.stringify({ people: PEOPLE }) });
      // each server's outage pool gets the call: either computes the day red
      await s.request('/api/tickets', { method: 'POST', body: JSON.stringify({ customer: 'C1', time: `${yesterday}T12:00:00+08:00`, text: '家里停电' }) });
    }
    gateway.receiptUrl = `${holder.url}/api/notify/receipts`;

    // computed on the server without the lease: the holder opens the item
    const onOther = await other.request('/api/risk/compute', { method: 'POST', body: JSON.stringify({ day: yesterday }) });
    expect(onOther.days.find((d: { station: string }) => d.station === 's1').code).toBe('red');
    await until(async () => ((await itemsOf(holder)).total === 1 ? [] : ['no item on the holder']), 20_000, 'the item opened by the holder');
    // computed again on the holder: nothing new
    await holder.request('/api/risk/compute', { method: 'POST', body: JSON.stringify({ day: yesterday }) });
    await until(async () => ((await itemsOf(other)).total === 1 ? [] : ['the item not on the other server']), 20_000, 'the item on both servers');
    const [item] = (await itemsOf(holder)).items;
    expect(item).toMatchObject({ station: 's1', state: 'open' });
    expect((await itemsOf(other)).items.map((i) => i.id)).toEqual([item!.id]);
    await until(() => (gateway.messages().some((m) => m.phone === HEAD) ? [] : ['no SMS to the s1 head']), 20_000, 'the opening SMS');
    // the holder alone notifies: one SMS, not one per server
    await sleep(2000);
    expect(gateway.messages().filter((m) => m.phone === HEAD)).toHaveLength(1);

    // a follow-up on the server without the lease is seen on the holder, once
    await other.request(`/api/risk/items/${item!.id}/follow-up`, { method: 'POST', body: JSON.stringify({ text: '已安排巡视' }) });
    await until(async () => ((await itemsOf(holder)).items[0]!.events.some((e) => e.kind === 'follow-up' || e.text === '已安排巡视') ? [] : ['follow-up not on the holder']), 20_000, 'the follow-up on the holder');
    const followUps = (await itemsOf(holder)).items[0]!.events.filter((e) => e.text === '已安排巡视');
    expect(followUps).toHaveLength(1);

    // the holder killed: the other takes the lease over and its run opens nothing twice
    await holder.kill9();
    await until(async () => ((await holderOf(nc)) === other.id ? [] : [`holder ${await holderOf(nc)}`]), 20_000, 'the lease taken over');
    const again = await other.request('/api/risk/compute', { method: 'POST', body: JSON.stringify({ day: yesterday }) });
    expect(again.days.find((d: { station: string }) => d.station === 's1').code).toBe('red');
    await sleep(2000);
    const after = await itemsOf(other);
    expect(after.total).toBe(1);
    expect(after.items[0]!.events.filter((e) => e.text === '已安排巡视')).toHaveLength(1);
    expect(after.items[0]!.events.filter((e) => e.kind === 'opened')).toHaveLength(1);
    expect(gateway.messages().filter((m) => m.phone === HEAD)).toHaveLength(1);
    expect(gateway.messages().some((m) => m.phone === '13900000102')).toBe(false);
  }, 90_000);
});
