/**
 * Alarm rules in a cluster: one document in the NATS KV bucket
 * `gridwatch_rules`, a revision per change. Two gridwatch servers (processes)
 * on a 3-node NATS cluster with one InfluxDB: the first seeds the bucket
 * from its rules file; the second, whose file differs, takes the bucket's.
 * A rule's threshold changed through gw2's API is in force on gw1, which
 * raises at the new threshold from a reading it handles (a reading below the
 * old one); a change on gw1 based on the revision before is refused with 409
 * and the current revision; a WebSocket client of gw1 gets the change's
 * `alarm_rules` frame with the seq gw2 journaled it at; gw1, caught up, replaces the whole document
 * without naming a revision and gw2 has it; two changes on the same
 * revision made at once on both: one written, the other refused with 409;
 * each change is journaled once
 * and audited by the server it was made on; a server started after the
 * changes has them.
 */
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startNatsCluster } from '../harness/index.ts';
import { partitionOf } from '../../server/cluster/partition.ts';
import { connectWs } from '../support/ws-client.ts';
import { ClusterServer, clusterTopology, leaseOwners, until } from './support.ts';
import { connect } from 'nats';

const influxUrl = inject('influxUrl');
const uid = randomBytes(3).toString('hex');
const PARTITIONS = 4;
const rules = (hi: number) => `version: 1
useDefaults: false
rules:
  - id: ua-test
    kind: threshold
    quantity: ua
    levels: { hi: { value: ${hi}, severity: high } }
`;
type RulesInfo = { revision: number | null; document: { rules: { id: string; levels?: { hi?: { value: number } } }[] } };
const hiOf = (info: RulesInfo) => info.document.rules.find((r) => r.id === 'ua-test')?.levels?.hi?.value;

/** PUT without throwing: the status and the answer */
async function put(s: ClusterServer, p: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(s.url + p, { method: 'PUT', headers: { cookie: s.cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe('alarm rules in a cluster', () => {
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  afterAll(async () => {
    while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
  });

  it('a change on one server is in force on all, a stale change is refused with 409, a later server has it', async () => {
    const cluster = await startNatsCluster({ partitions: PARTITIONS });
    cleanups.push(() => cluster.stop());
    const nc = await connect({ servers: cluster.natsUrls });
    cleanups.push(() => nc.close());
    const site = `rs-${uid}`;
    const agents = Array.from({ length: 4 }, (_, i) => ({ agent: `${site}-a${i}`, meters: [`${site}-a${i}-m1`] }));
    const common = { cluster, influxUrl, database: `gw_rules_${uid}`, topologyYaml: clusterTopology(site, agents) };
    const s1 = await ClusterServer.create({ ...common, serverId: 'gw1', rulesYaml: rules(300) });
    // a rules file that differs: the cluster's rules win
    const s2 = await ClusterServer.create({ ...common, serverId: 'gw2', rulesYaml: rules(280) });
    cleanups.push(() => s1.close(), () => s2.close());
    await s1.start();
    await s2.start();
    expect(s1.logs.some((l) => String(l.msg).startsWith('cluster rules seeded'))).toBe(true);
    expect(s2.logs.some((l) => String(l.msg).startsWith('rules file differs from the cluster'))).toBe(true);
    const before = (await s2.get('/api/alarm-rules')) as RulesInfo;
    expect(hiOf(before)).toBe(300);
    expect(before.revision).toBe(((await s1.get('/api/alarm-rules')) as RulesInfo).revision);
    const base = before.revision!;

    let owners: (string | null)[] = [];
    await until(async () => ((owners = await leaseOwners(nc, PARTITIONS)).includes('gw1') && owners.includes('gw2') && !owners.includes(null) ? [] : [`owners ${JSON.stringify(owners)}`]), 20_000, 'partitions on both servers');
    const onGw1 = agents.find((a) => owners[partitionOf(a.agent, PARTITIONS)] === 'gw1')!;
    expect(onGw1).toBeDefined();

    // a dashboard client of gw1
    const ws1 = await connectWs(s1.url.replace(/^http/, 'ws') + '/ws', { cookie: s1.cookie });
    cleanups.push(() => ws1.close());

    // changed on gw2, based on the revision it shows
    const changed = await put(s2, `/api/alarm-rules/ua-test?revision=${base}&comment=lower`, { kind: 'threshold', quantity: 'ua', levels: { hi: { value: 250, severity: 'high' } } });
    expect(changed.status).toBe(200);
    expect(changed.body.revision).toBeGreaterThan(base);
    // another change on gw1 based on the revision before: refused, with the current revision, nothing overwritten
    const stale = await put(s1, `/api/alarm-rules/ua-test?revision=${base}`, { kind: 'threshold', quantity: 'ua', levels: { hi: { value: 200, severity: 'high' } } });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'GW_ERR_RULES_CONFLICT', revision: changed.body.revision });
    await until(async () => {
      const info = (await s1.get('/api/alarm-rules')) as RulesInfo;
      return info.revision === changed.body.revision && hiOf(info) === 250 ? [] : [`gw1 at revision ${info.revision}, hi ${hiOf(info)}`];
    }, 10_000, 'the change in force on gw1');
    // gw1's client gets the change's frame, with the seq gw2 journaled it at
    const rulesFrame = await ws1.next((f) => f.type === 'alarm_rules' && f.change?.ruleId === 'ua-test', 10_000);
    expect(rulesFrame.seq).toBe(changed.body.seq);
    expect(rulesFrame.change).toMatchObject({ kind: 'rules', seq: changed.body.seq, by: 'admin', comment: 'lower' });

    // a reading gw1 handles, above the new threshold and below the old one: raised on gw1
    const meter = onGw1.meters[0]!;
    const agentMqtt = await mqtt.connectAsync(cluster.mqttUrls[0]!, { clientId: `rs-${uid}-pub` });
    cleanups.push(() => agentMqtt.endAsync());
    const ts = Date.now();
    await agentMqtt.publishAsync(`gridwatch/v1/${site}/${onGw1.agent}/readings`, JSON.stringify({ agent: onGw1.agent, from: 1, next: 2, readings: [{ device: meter, ts, seq: 1, v: { ua: 260 }, q: 'good' }] }), { qos: 1 });
    await until(async () => {
      const res = (await s1.get(`/api/alarms?rule=ua-test`)) as { alarms: { alarmId: string; state: string }[] };
      return res.alarms.some((a) => a.alarmId === `ua-test:${meter}` && a.state !== 'normal') ? [] : ['not raised on gw1'];
    }, 15_000, 'the alarm at the new threshold');
    expect(s1.logs.some((l) => l.msg === 'alarm transition' && l.alarmId === `ua-test:${meter}` && l.reason === 'raise')).toBe(true);

    // gw1, now at the latest revision, changes the whole document without naming a revision: in force on gw2
    const doc = { version: 1, useDefaults: false, rules: [{ id: 'ua-test', kind: 'threshold', quantity: 'ua', levels: { hi: { value: 255, severity: 'high' } } }] };
    const whole = await put(s1, '/api/alarm-rules?comment=whole', doc);
    expect(whole.status).toBe(200);
    expect(whole.body.revision).toBe(changed.body.revision + 1);
    await until(async () => {
      const info = (await s2.get('/api/alarm-rules')) as RulesInfo;
      return info.revision === whole.body.revision && hiOf(info) === 255 ? [] : [`gw2 at revision ${info.revision}, hi ${hiOf(info)}`];
    }, 10_000, 'the whole document in force on gw2');

    // both at once, on the same revision: one is written, the other refused with 409 and the winner's revision
    const rule = (hi: number) => ({ kind: 'threshold', quantity: 'ua', levels: { hi: { value: hi, severity: 'high' } } });
    const race = await Promise.all([put(s1, `/api/alarm-rules/ua-test?revision=${whole.body.revision}&comment=race`, rule(240)), put(s2, `/api/alarm-rules/ua-test?revision=${whole.body.revision}&comment=race`, rule(245))]);
    expect(race.map((r) => r.status).sort()).toEqual([200, 409]);
    const won = race.find((r) => r.status === 200)!;
    const wonOn = race[0]!.status === 200 ? s1 : s2;
    const final = { revision: won.body.revision as number, hi: race[0]!.status === 200 ? 240 : 245 };
    expect(final.revision).toBe(whole.body.revision + 1);
    expect(race.find((r) => r.status === 409)!.body.error).toMatchObject({ code: 'GW_ERR_RULES_CONFLICT', revision: final.revision });

    // one history: each change journaled once (by the server it was made on), read from either server; audited there
    await until(async () => {
      const ev = (await s2.get('/api/alarm-events?kind=rules')) as { events: { ruleId: string; comment?: string }[] };
      const ours = ev.events.map((e) => `${e.ruleId || '(document)'}:${e.comment ?? ''}`);
      return JSON.stringify(ours) === JSON.stringify(['ua-test:lower', '(document):whole', 'ua-test:race']) ? [] : [`rules entries ${JSON.stringify(ours)}`];
    }, 10_000, 'each change in the journal once');
    const audit = async (s: ClusterServer) => ((await s.get('/api/audit?kind=rules_changed')) as { events: { target?: string }[] }).events.map((e) => e.target).sort();
    expect(await audit(s2)).toEqual(wonOn === s2 ? ['ua-test', 'ua-test'] : ['ua-test']);
    expect(await audit(s1)).toEqual(wonOn === s1 ? ['(document)', 'ua-test'] : ['(document)']);

    // a server started after the changes (its file has the old rules) has them
    const s3 = await ClusterServer.create({ ...common, serverId: 'gw3', rulesYaml: rules(300) });
    cleanups.push(() => s3.close());
    await s3.start();
    const late = (await s3.get('/api/alarm-rules')) as RulesInfo;
    expect(late.revision).toBe(final.revision);
    expect(hiOf(late)).toBe(final.hi);
    expect(s3.logs.some((l) => String(l.msg).startsWith('rules file differs from the cluster'))).toBe(true);
  }, 90_000);
});
