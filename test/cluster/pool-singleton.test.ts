/**
 * The outage pool in a cluster: two gridwatch servers on a 3-node NATS
 * cluster with one InfluxDB and the test SMS gateway; readings of one agent
 * over a node's MQTT gateway. Exactly one server holds the `center` lease; a
 * plan created and confirmed on the other is applied by the holder (one SMS
 * per customer); a transformer gone dark makes exactly one outage, the same
 * on both servers' REST, opened once in its journal; the holder killed with
 * SIGKILL mid-outage, the other takes the lease over and records the
 * restoration on the same outage (same id and start) with one restoration
 * SMS per customer contact. Line loss: only the holder computes the
 * intervals on schedule (its catch-up at start), the other none until it
 * takes the lease over.
 */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startNatsCluster } from '../harness/index.ts';
import { CENTER_LEASE_KEY } from '../../server/outages/cluster.ts';
import { Feed } from '../alarms/helpers.ts';
import { TestSmsGateway } from '../support/sms-gateway.ts';
import { ClusterServer, sleep, until } from './support.ts';

const influxUrl = inject('influxUrl');
const uid = randomBytes(3).toString('hex');
const SECRET = 'pool-cluster-gateway-secret-0123456789';
const SITE = 'pc';
const AGENT = `pc-agent-${uid}`;
const TOPOLOGY = `
sites:
  - id: ${SITE}
    name: 集群停电
    rooms:
      - id: r1
        name: R1
        agent: ${AGENT}
        transformers:
          - { id: T1, name: 1号变, ratedKva: 400, meter: pm1, lines: [{ id: L1, name: L1, meter: pm2 }] }
          - { id: T2, name: 2号变, ratedKva: 400, meter: pm3, lines: [{ id: L2, name: L2, meter: pm4 }] }
customers:
  - { id: K1, name: 甲, site: ${SITE}, transformer: T1, line: L1, contacts: [{ name: 甲, phone: '13700000001' }, { name: 甲妻, phone: '13700000011' }] }
  - { id: K2, name: 乙, site: ${SITE}, transformer: T1, contacts: [{ name: 乙, phone: '13700000002' }] }
  - { id: K3, name: 丙, site: ${SITE}, transformer: T2, line: L2, contacts: [{ name: 丙, phone: '13700000003' }] }
`;
const T1_PHONES = ['13700000001', '13700000011', '13700000002'];

async function holderOf(nc: NatsConnection): Promise<string | null> {
  const kv = await nc.jetstream().views.kv('gridwatch_leases');
  const e = await kv.get(CENTER_LEASE_KEY);
  return e && e.operation === 'PUT' ? new TextDecoder().decode(e.value) : null;
}

type Outage = { id: string; state: string; start: number; scope: { kind: string; transformer?: string } };
const t1Outages = async (s: ClusterServer) => ((await s.get('/api/outages?view=all')).outages as Outage[]).filter((o) => o.scope.transformer === 'T1');

describe('outage pool in a cluster', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('one lease holder runs it: one outage, one notice per customer, taken over on the same outage', async () => {
    const gateway = new TestSmsGateway({ secret: SECRET, delayMs: [1, 10], receiptDelayMs: [50, 200], failRate: 0 });
    await gateway.start();
    cleanups.push(() => gateway.stop());
    const cluster = await startNatsCluster({ partitions: 4 });
    cleanups.push(() => cluster.stop());
    const nc = await connect({ servers: cluster.natsUrls });
    cleanups.push(() => nc.close());
    const extra = {
      notify: { gateway: { url: gateway.url, account: 'gw', secret: SECRET }, retryBaseMs: 100, retryMaxMs: 500 },
      outages: { tickMs: 200 },
    };
    const common = { cluster, influxUrl, database: `gw_poolcl_${uid}`, topologyYaml: TOPOLOGY, rulesYaml: 'version: 1\nuseDefaults: true\n', extra };
    const servers = [await ClusterServer.create({ ...common, serverId: 'gw1' }), await ClusterServer.create({ ...common, serverId: 'gw2' })];
    cleanups.push(...servers.map((s) => () => s.close()));
    for (const s of servers) await s.start();

    let holderId: string | null = null;
    await until(async () => ((holderId = await holderOf(nc)) ? [] : ['no center lease holder']), 20_000, 'a center lease holder');
    const holder = servers.find((s) => s.id === holderId)!;
    const other = servers.find((s) => s.id !== holderId)!;

    // readings every 250 ms over a node's MQTT gateway, as an agent sends them
    const volts: Record<string, number> = { pm1: 230, pm2: 230, pm3: 230, pm4: 230 };
    const feed = await Feed.open(cluster.mqttUrls[1]!, SITE, AGENT);
    const timer = setInterval(() => void feed.publish(Object.entries(volts).map(([device, v]) => ({ device, ts: Date.now(), v: { ua: v, ub: v, uc: v, ia: v / 10, ib: v / 10, ic: v / 10 } }))).catch(() => undefined), 250);
    cleanups.push(() => feed.close());
    cleanups.push(() => clearInterval(timer));

    // a plan made and confirmed on the server without the lease: applied by the holder, its notices sent once
    const start = Date.now() + 10 * 86_400_000;
    const plan = await other.request('/api/plans', { method: 'POST', body: JSON.stringify({ scope: [{ kind: 'transformer', site: SITE, transformer: 'T2' }], start, end: start + 3_600_000, reason: '检修' }) });
    expect(plan).toMatchObject({ state: 'draft', customers: 1, createdBy: 'admin' });
    await other.request(`/api/plans/${plan.id}/confirm`, { method: 'POST', body: JSON.stringify({ customers: 1 }) });
    await until(async () => ((await holder.get(`/api/plans/${plan.id}`)).state === 'notified' ? [] : ['plan not notified on the holder']), 20_000, 'the plan notified');
    await until(async () => ((await other.get(`/api/plans/${plan.id}`)).state === 'notified' ? [] : ['plan not notified on the other']), 20_000, 'the plan on the other server');
    // a refusal is relayed as the holder gave it
    const refused = await fetch(`${other.url}/api/plans`, {
      method: 'POST',
      headers: { cookie: other.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ scope: [{ kind: 'line', site: SITE, line: 'L2' }], start, end: start + 3_600_000, reason: '重叠' }),
    });
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as { error: { code: string; issues: { reason: string }[] } };
    expect(body.error.code).toBe('GW_ERR_PLAN_OVERLAP');
    expect(body.error.issues[0]!.reason).toContain(plan.id);

    // T1 dark: one outage, the same on both servers
    volts.pm1 = volts.pm2 = 0;
    let opened: Outage | undefined;
    await until(async () => ((opened = (await t1Outages(holder)).find((o) => o.state === 'active')) ? [] : ['no T1 outage']), 30_000, "T1's outage on the holder");
    await until(async () => ((await t1Outages(other)).some((o) => o.id === opened!.id) ? [] : ['not on the other']), 20_000, "T1's outage on the other server");
    await sleep(1500);
    for (const s of servers) expect((await t1Outages(s)).map((o) => `${o.id} ${o.state} ${o.start}`)).toEqual([`${opened!.id} active ${opened!.start}`]);
    const timeline = (await other.get(`/api/outages/${opened!.id}`)).timeline as { what: string }[];
    expect(timeline.filter((e) => e.what.startsWith('transformer outage'))).toHaveLength(1);
    // T1's outage alarm was raised once and never cleared meanwhile: only the owner of its partition correlates it (another
    // server holds no state of its meters and would clear it, the owner raise it again, at every tick)
    const darkAlarm = `outage:${SITE}/T1`;
    const t1Transitions = async () =>
      ((await other.get(`/api/alarm-events?kind=transition&limit=1000`)) as { events: { alarmId: string; reason: string; from: string; to: string }[] }).events.filter((e) => e.alarmId === darkAlarm);
    await until(async () => ((await t1Transitions()).length > 0 ? [] : ['no transition of the T1 outage alarm journaled']), 20_000, "T1's outage alarm journaled");
    // the pool's comments aside (they keep the state)
    const changes = (await t1Transitions()).filter((e) => e.reason !== 'comment');
    expect(changes.map((e) => `${e.reason} ${e.from}→${e.to}`)).toEqual(['raise normal→unack_active']);

    // line loss on schedule: the holder's catch-up computed the last intervals, the other server none
    const computed = (s: ClusterServer) => s.logs.filter((l) => l.msg === 'line loss computed').length;
    expect(computed(holder)).toBeGreaterThan(0);
    expect(computed(other)).toBe(0);

    // the holder killed mid-outage: the other takes the duty over and records the restoration on the same outage
    await holder.kill9();
    await until(async () => ((await holderOf(nc)) === other.id ? [] : [`holder ${await holderOf(nc)}`]), 20_000, 'the center lease taken over');
    volts.pm1 = volts.pm2 = 230;
    await until(async () => ((await t1Outages(other)).some((o) => o.id === opened!.id && o.state === 'restored') ? [] : ['not restored']), 30_000, 'the restoration');
    await until(() => (T1_PHONES.every((p) => gateway.messages().some((m) => m.phone === p)) ? [] : ['restoration SMS missing']), 20_000, 'the restoration notices');
    await sleep(2000);
    const after = await t1Outages(other);
    expect(after.map((o) => `${o.id} ${o.state} ${o.start}`)).toEqual([`${opened!.id} restored ${opened!.start}`]);
    const sms = gateway.messages();
    for (const p of T1_PHONES) expect(sms.filter((m) => m.phone === p)).toHaveLength(1);
    expect(sms.filter((m) => m.phone === '13700000003')).toHaveLength(1);
    // the new holder caught the line-loss intervals up
    expect(computed(other)).toBeGreaterThan(0);
  }, 120_000);
});
