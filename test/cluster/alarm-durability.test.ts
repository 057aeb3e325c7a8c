/**
 * Cluster alarms are durable (docs/cluster.md, Guarantees and failures):
 *
 *  - a transition made while a server is cut off from NATS reaches it once it
 *    is back (the alarm stream, followed by an ordered consumer; core NATS
 *    lost it);
 *  - transitions a server made and had not journaled (its store cut off) when
 *    it was killed with SIGKILL are in the journal once each after the other
 *    server took its partitions over, and the survivor's alarm set is the
 *    same as before the kill;
 *  - an alarm left unacknowledged is escalated once, by the owner of its
 *    partition, and every server knows it escalated;
 *  - a partition's rule state larger than one NATS message is saved and read
 *    back whole, and a reader never gets a half-written one.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { connect } from 'nats';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { influxQuery, startNatsCluster, type NatsCluster } from '../harness/index.ts';
import { partitionOf } from '../../server/cluster/partition.ts';
import { RuleStateStore } from '../../server/cluster/rule-state-kv.ts';
import type { PersistedState } from '../../server/alarms/state-store.ts';
import { ClusterServer, clusterTopology, leaseOwners, sleep, startAgents, until } from './support.ts';

const influxUrl = inject('influxUrl');
const uid = randomBytes(3).toString('hex');
const PARTITIONS = 4;
/** ua-test active on every meter from its first reading (the simulated mains are ~230 V) */
const RULES = `version: 1
useDefaults: true
rules:
  - id: ua-test
    kind: threshold
    quantity: ua
    levels: { hi: { value: 100, severity: high } }
`;

/**
 * A TCP front to one address that can be cut: `cut()` drops every connection
 * and refuses new ones until `mend()` (a network partition between one
 * server and what is behind the front).
 */
async function gate(target: string): Promise<{ url: string; cut(): void; mend(): void; close(): Promise<void> }> {
  const u = new URL(target);
  const sockets = new Set<net.Socket>();
  let open = true;
  const server = net.createServer((client) => {
    if (!open) return void client.destroy();
    const up = net.connect(Number(u.port), u.hostname);
    sockets.add(client).add(up);
    const close = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    for (const s of [client, up]) s.on('error', close).on('close', close);
    client.pipe(up);
    up.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `${u.protocol}//127.0.0.1:${port}`,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    mend() {
      open = true;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

type AlarmRow = { alarmId: string; state: string; activeSince: number | null };
async function uaAlarms(s: ClusterServer): Promise<Map<string, AlarmRow>> {
  const res = (await s.request('/api/alarms?rule=ua-test')) as { alarms: AlarmRow[] };
  return new Map(res.alarms.map((a) => [a.alarmId, { alarmId: a.alarmId, state: a.state, activeSince: a.activeSince }]));
}
const sorted = (m: Map<string, AlarmRow>) => [...m.values()].sort((a, b) => (a.alarmId < b.alarmId ? -1 : 1));

describe('cluster alarms durable', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });
  let shared: NatsCluster | undefined;
  const natsCluster = async () => {
    if (!shared) {
      shared = await startNatsCluster({ partitions: PARTITIONS, noAdvertise: true });
      const c = shared;
      cleanups.push(() => c.stop());
    }
    return shared;
  };

  it('a transition made while a server is cut off reaches it; one killed before journaling loses none', async () => {
    const cluster = await natsCluster();
    const site = `ad-${uid}`;
    const database = `gw_alarmdur_${uid}`;
    const fleet = Array.from({ length: 4 }, (_, i) => ({ agent: `${site}-a${i}`, meters: [1, 2, 3].map((u) => `${site}-a${i}-m0-${u}`) }));
    // the escalation webhook: every POST counted by alarm
    const escalated = new Map<string, number>();
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const id = (JSON.parse(body) as { alarm: { alarmId: string } }).alarm.alarmId;
        escalated.set(id, (escalated.get(id) ?? 0) + 1);
        res.end('{}');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => hook.close(r)));
    const webhookUrl = `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/escalate`;
    const common = {
      influxUrl,
      database,
      topologyYaml: clusterTopology(site, fleet),
      rulesYaml: RULES,
      leaseTtlMs: 6000,
      renewMs: 1500,
      // a high alarm unacknowledged for 2 s is escalated
      extra: { alarms: { tickMs: 200, persistIntervalMs: 500, escalation: { webhookUrl, afterS: { high: 2 } } } },
    };
    // gw2 reaches NATS and InfluxDB only through fronts the test can cut
    const natsGates = await Promise.all(cluster.natsUrls.map((u) => gate(u)));
    const influxGate = await gate(influxUrl);
    cleanups.push(...natsGates.map((g) => () => g.close()), () => influxGate.close());
    const s1 = await ClusterServer.create({ ...common, cluster, serverId: 'gw1' });
    const s2 = await ClusterServer.create({ ...common, cluster: { ...cluster, natsUrls: natsGates.map((g) => g.url) }, influxUrl: influxGate.url, serverId: 'gw2' });
    cleanups.push(() => s1.close(), () => s2.close());
    if (process.env.GW_TEST_LOG) cleanups.push(() => console.log([s1, s2].map((s) => s.logs.filter((l) => (l.level as number) >= 40 || l.component === 'cluster').slice(-60).map((l) => `${s.id} ${JSON.stringify(l).slice(0, 300)}`).join('\n')).join('\n')));
    await s1.start();
    await s2.start();
    const tap = await connect({ servers: cluster.natsUrls });
    cleanups.push(() => tap.close());
    await until(async () => {
      const o = await leaseOwners(tap, PARTITIONS);
      return o.includes('gw1') && o.includes('gw2') && !o.includes(null) ? [] : [`owners ${JSON.stringify(o)}`];
    }, 20_000, 'partitions on both servers');
    const owners = await leaseOwners(tap, PARTITIONS);
    const agents = await startAgents({ cluster, site, prefix: site, count: fleet.length, meters: 3, intervalMs: 500 });
    cleanups.push(() => agents.stop());
    const meters = fleet.flatMap((a) => a.meters);
    await until(async () => {
      const [a1, a2] = [await uaAlarms(s1), await uaAlarms(s2)];
      return meters.filter((m) => !a1.has(`ua-test:${m}`) || !a2.has(`ua-test:${m}`)).map((m) => `${m} not listed on both`);
    }, 30_000, 'ua-test alarms on both servers');
    // escalated once each (by the owner of its partition), and known as escalated on both servers
    await until(() => meters.filter((m) => !escalated.has(`ua-test:${m}`)).map((m) => `${m} not escalated`), 20_000, 'escalations');
    await until(async () => {
      const out: string[] = [];
      for (const s of [s1, s2]) {
        const res = (await s.request('/api/alarms?rule=ua-test')) as { alarms: { alarmId: string; escalatedAt: number | null }[] };
        for (const a of res.alarms) if (a.escalatedAt === null) out.push(`${a.alarmId} not escalated on ${s.id}`);
      }
      return out;
    }, 10_000, 'escalations known on both servers');
    await sleep(1000);
    expect([...escalated].filter(([, n]) => n !== 1)).toEqual([]);
    const meterOf = (server: string) => fleet.filter((a) => owners[partitionOf(a.agent, PARTITIONS)] === server).flatMap((a) => a.meters);
    expect(meterOf('gw1').length).toBeGreaterThan(0);
    expect(meterOf('gw2').length).toBeGreaterThan(0);

    // gw2 cut off from every NATS node: an acknowledgement made on gw1 meanwhile reaches it once it is back
    const ackedOnGw1 = `ua-test:${meterOf('gw1')[0]}`;
    for (const g of natsGates) g.cut();
    await sleep(1000);
    await s1.request(`/api/alarms/${encodeURIComponent(ackedOnGw1)}/acknowledge`, { method: 'POST', body: JSON.stringify({ comment: 'while gw2 is cut off' }) });
    await sleep(1500);
    for (const g of natsGates) g.mend();
    await until(async () => ((await uaAlarms(s2)).get(ackedOnGw1)?.state === 'ack_active' ? [] : [`${ackedOnGw1} not acknowledged on gw2`]), 20_000, 'the acknowledgement on gw2');

    // one alarm acted on on both servers at once: gw2 (cut off) comments on and acknowledges an alarm of gw1's partition
    // while gw1 shelves it; once gw2 is back both hold gw1's decision (an acknowledgement of a shelved alarm is refused
    // there), not the acknowledgement with the larger seq applied over the shelve on one and the shelve skipped on the other
    const raced = `ua-test:${meterOf('gw1')[1]}`;
    for (const g of natsGates) g.cut();
    await sleep(500);
    for (const c of ['looking', 'still looking']) await s2.request(`/api/alarms/${encodeURIComponent(raced)}/comment`, { method: 'POST', body: JSON.stringify({ comment: c }) });
    await s2.request(`/api/alarms/${encodeURIComponent(raced)}/acknowledge`, { method: 'POST', body: '{}' });
    await s1.request(`/api/alarms/${encodeURIComponent(raced)}/shelve`, { method: 'POST', body: JSON.stringify({ reason: 'maintenance', forS: 3600 }) });
    for (const g of natsGates) g.mend();
    await until(async () => {
      const [a1, a2] = [(await uaAlarms(s1)).get(raced)?.state, (await uaAlarms(s2)).get(raced)?.state];
      return a1 === 'shelved' && a2 === 'shelved' ? [] : [`${raced}: ${a1} on gw1, ${a2} on gw2`];
    }, 20_000, 'the owner\'s decision on both servers');

    // gw2 cut off from the store, acknowledgements made on it (in the stream, not in its journal), then gw2 killed
    influxGate.cut();
    const ackedOnGw2 = meterOf('gw2').slice(0, 3).map((m) => `ua-test:${m}`);
    for (const id of ackedOnGw2) await s2.request(`/api/alarms/${encodeURIComponent(id)}/acknowledge`, { method: 'POST', body: '{}' });
    await until(async () => {
      const a1 = await uaAlarms(s1);
      return ackedOnGw2.filter((id) => a1.get(id)?.state !== 'ack_active');
    }, 15_000, 'gw2\'s acknowledgements on gw1');
    const before = await uaAlarms(s1);
    await s2.kill9();
    await until(async () => ((await leaseOwners(tap, PARTITIONS)).every((x) => x === 'gw1') ? [] : ['gw2 still owns a partition']), 20_000, 'every partition on gw1');
    // the journal holds each of gw2's acknowledgements once (journaled by gw1 from the stream when it took gw2's partitions)
    await until(async () => {
      const rows = await influxQuery(influxUrl, database, `SELECT count("seq") FROM "alarm_event" WHERE "reason" = 'acknowledge' GROUP BY "alarmId"`);
      const n = new Map((rows[0]?.series ?? []).map((x) => [x.tags?.alarmId ?? '', x.values[0]![1] as number]));
      return [ackedOnGw1, ...ackedOnGw2].filter((id) => n.get(id) !== 1).map((id) => `${id}: ${n.get(id) ?? 0} acknowledgements journaled`);
    }, 15_000, 'every acknowledgement journaled once');
    // and gw1's set is as it was: the same alarms, states and starts, none raised again
    await sleep(2000);
    expect(sorted(await uaAlarms(s1))).toEqual(sorted(before));
    const raises = await influxQuery(influxUrl, database, `SELECT count("seq") FROM "alarm_event" WHERE "ruleId" = 'ua-test' AND "reason" = 'raise' GROUP BY "alarmId"`);
    expect((raises[0]?.series ?? []).filter((x) => x.values[0]![1] !== 1).map((x) => x.tags?.alarmId)).toEqual([]);
  }, 120_000);

  it('saves a partition\'s rule state over 1 MB and reads it back whole, never half-written', async () => {
    const nc = await connect({ servers: (await natsCluster()).natsUrls });
    cleanups.push(() => nc.close());
    const kv = await nc.jetstream().views.kv(`gw_big_${uid}`, { history: 1, replicas: 3 });
    const store = new RuleStateStore(kv);
    // 30,000 meters' states, about 2.5 MB of JSON: more than the 1 MB a NATS message may carry
    const state = (gen: number): PersistedState => ({
      version: 1,
      savedAt: gen,
      seq: gen,
      lags: {},
      sites: {},
      states: { 'ua-test': Object.fromEntries(Array.from({ length: 30_000 }, (_, i) => [`meter-${i}`, { kind: 'threshold', gen, levels: { confirmed: 'hi', since: 1_700_000_000_000 + i } }])) as never },
    });
    const first = state(1);
    expect(JSON.stringify(first).length).toBeGreaterThan(2 * 1024 * 1024);
    await store.save(7, JSON.stringify(first), 1, 43);
    const loaded = await store.load(7);
    expect(loaded?.streamSeq).toBe(43);
    expect(loaded?.state).toEqual(first);
    // saves and loads at once: every load is one save's state, whole
    let saving = true;
    const saves = (async () => {
      for (let gen = 2; gen <= 6; gen++) await store.save(7, JSON.stringify(state(gen)), gen, 42 + gen);
      saving = false;
    })();
    const seen: number[] = [];
    while (saving) {
      const l = await store.load(7);
      const gens = new Set(Object.values(l!.state.states['ua-test']!).map((s) => (s as unknown as { gen: number }).gen));
      expect([...gens]).toEqual([l!.state.savedAt]);
      expect(l!.streamSeq).toBe(42 + l!.state.savedAt);
      seen.push(l!.state.savedAt);
    }
    await saves;
    expect(seen.length).toBeGreaterThan(0);
    expect((await store.load(7))?.state.savedAt).toBe(6);
  }, 60_000);
});
