/**
 * Operators and the alarm API against a real server: acknowledge, shelve,
 * comment over REST, seen at once by every WebSocket client; viewers only
 * look; the one-key call taken by one operator; a reconnecting client resumes
 * without gaps; admins change rules without a restart; alarm-system health.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { alarmClient, brief, Feed, oneRoomTopology, startAlarmServer, transitions, type AlarmTestServer } from './helpers.ts';
import type { TestRole } from '../support/server.ts';
import { connectWs, eventually } from '../support/ws-client.ts';

const SITE = 'al-ops';
const AGENT = 'al-ops-agent';
const TOPOLOGY = oneRoomTopology({ site: SITE, name: 'Operators', agent: AGENT, meters: ['ops-m1', 'ops-m2', 'ops-m3'] });
const RULES = `# operators test rules: kept by the write-back
version: 1
useDefaults: true # the GB/T defaults underneath
rules:
  # the feed sends no steady data
  - id: comm-loss
    enabled: false
  - id: call
    activeS: 2 # short, so the test ends soon
  # a room sensor limit, changed by the admin below
  - id: ops-hi
    name: Room too hot (test)
    kind: threshold
    scope: { site: ${SITE} } # only this site
    quantity: temp
    levels: { hi: { value: 80, severity: high } } # the limit
`;

let ts: AlarmTestServer;
let feed: Feed;
let tNext = Date.now();
const temp = (device: string, v: number) => feed.publish([{ device, ts: (tNext = Math.max(Date.now(), tNext + 1)), v: { temp: v } }]);
const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const act = (id: string, what: string, body: unknown, role: TestRole) => ts.fetch(`/api/alarms/${encodeURIComponent(id)}/${what}`, { ...json(body), role });

beforeAll(async () => {
  ts = await startAlarmServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY, rulesYaml: RULES });
  feed = await Feed.open(inject('mqttUrl'), SITE, AGENT);
});
afterAll(async () => {
  await feed?.close();
  await ts?.close();
});

describe('operators', () => {
  it('an operator acknowledges with a comment over REST; a second WebSocket client sees it at once; a viewer may not', async () => {
    const a = await alarmClient(ts, 'operator');
    const b = await alarmClient(ts, 'viewer');
    await temp('ops-m1', 90);
    const raised = await b.next((f) => f.type === 'alarm' && f.transition.alarmId === 'ops-hi:ops-m1');
    expect(raised.alarm).toMatchObject({ state: 'unack_active', severity: 2, site: SITE, line: 'l1', ruleName: 'Room too hot (test)', acknowledged: null });

    const viewer = await act('ops-hi:ops-m1', 'acknowledge', { comment: 'me too' }, 'viewer');
    expect(viewer.status).toBe(403);
    expect((await viewer.json()).error.code).toBe('GW_ERR_AUTH_FORBIDDEN');
    const anon = await fetch(`${ts.server.url}/api/alarms/ops-hi%3Aops-m1/acknowledge`, json({}));
    expect(anon.status).toBe(401);

    const res = await act('ops-hi:ops-m1', 'acknowledge', { comment: 'crew sent' }, 'operator');
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.alarm).toMatchObject({ state: 'ack_active', acknowledged: { by: 'operator', comment: 'crew sent' } });
    const seen = await b.next((f) => f.type === 'alarm' && f.transition.reason === 'acknowledge');
    expect(seen.transition).toMatchObject({ alarmId: 'ops-hi:ops-m1', from: 'unack_active', to: 'ack_active', by: 'operator', comment: 'crew sent' });
    expect(seen.seq).toBe(raised.seq + 1);
    expect(body.seq).toBe(seen.seq);
    expect(brief(a.frames)).toEqual(brief(b.frames));

    // nothing left to acknowledge; an unknown alarm; a hostile body
    const again = await act('ops-hi:ops-m1', 'acknowledge', {}, 'admin');
    expect(again.status).toBe(409);
    expect((await again.json()).error).toMatchObject({ code: 'GW_ERR_ALARM_INVALID_TRANSITION', message: expect.stringContaining('acknowledged by operator') });
    const unknown = await act('ops-hi:nope', 'acknowledge', {}, 'operator');
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe('GW_ERR_ALARM_UNKNOWN');
    const hostile = await act('ops-hi:ops-m1', 'comment', { comment: 'x', extra: 1 }, 'operator');
    expect(hostile.status).toBe(400);
    await a.close();
    await b.close();
  });

  it('shelve needs a reason and an expiry, hides the alarm, and ends by itself; unshelve and comment are journaled with who', async () => {
    const c = await alarmClient(ts, 'viewer');
    await temp('ops-m2', 95);
    await c.next((f) => f.type === 'alarm' && f.transition.alarmId === 'ops-hi:ops-m2');
    expect((await act('ops-hi:ops-m2', 'shelve', { reason: 'sensor swap' }, 'operator')).status).toBe(400);
    expect((await act('ops-hi:ops-m2', 'shelve', { forS: 60 }, 'operator')).status).toBe(400);
    expect((await act('ops-hi:ops-m2', 'shelve', { reason: 'forever', until: Date.now() + 60 * 86_400_000 }, 'operator')).status).toBe(400);
    const sh = await act('ops-hi:ops-m2', 'shelve', { reason: 'sensor swap', forS: 1 }, 'operator');
    expect(sh.status).toBe(200);
    expect((await sh.json()).alarm).toMatchObject({ state: 'shelved', shelf: { by: 'operator', reason: 'sensor swap' } });
    // the shelve expires after 1 s: the still-active alarm annunciates again
    const back = await c.next((f) => f.type === 'alarm' && f.transition.alarmId === 'ops-hi:ops-m2' && f.transition.reason === 'shelve_expired', 5000);
    expect(back.transition).toMatchObject({ from: 'shelved', to: 'unack_active' });
    expect((await act('ops-hi:ops-m2', 'shelve', { reason: 'again', until: new Date(Date.now() + 600_000).toISOString() }, 'operator')).status).toBe(200);
    expect((await act('ops-hi:ops-m2', 'unshelve', { comment: 'done' }, 'operator')).status).toBe(200);
    expect((await act('ops-hi:ops-m2', 'comment', { comment: '值班员: 已电话通知' }, 'operator')).status).toBe(200);

    const h = await ts.fetch(`/api/alarms/${encodeURIComponent('ops-hi:ops-m2')}/history`, { role: 'viewer' });
    expect(h.status).toBe(200);
    const { events } = await h.json();
    expect(events.map((e: any) => `${e.from}→${e.to} ${e.reason}${e.by ? ` by ${e.by}` : ''}`)).toEqual([
      'normal→unack_active raise',
      'unack_active→shelved shelve by operator',
      'shelved→unack_active shelve_expired',
      'unack_active→shelved shelve by operator',
      'shelved→unack_active unshelve by operator',
      'unack_active→unack_active comment by operator',
    ]);
    expect(events.at(-1).comment).toBe('值班员: 已电话通知');
    for (let i = 1; i < events.length; i++) expect(events[i].seq).toBeGreaterThan(events[i - 1].seq);
    await c.close();
  });

  it('lists and filters alarms: current set by default, by state, severity, site, activity, time', async () => {
    await temp('ops-m3', 85);
    await eventually(async () => (await (await ts.fetch('/api/alarms?source=ops-m3', { role: 'viewer' })).json()).total === 1);
    const get = async (q: string) => (await (await ts.fetch(`/api/alarms${q}`, { role: 'viewer' })).json()) as { seq: number; total: number; alarms: any[] };
    const ids = async (q: string) => (await get(q)).alarms.map((a) => a.alarmId).sort();
    expect(await ids('')).toEqual(['ops-hi:ops-m1', 'ops-hi:ops-m2', 'ops-hi:ops-m3']);
    expect(await ids('?state=ack_active')).toEqual(['ops-hi:ops-m1']);
    expect(await ids('?state=unack_active,ack_active&severity=high')).toEqual(['ops-hi:ops-m1', 'ops-hi:ops-m2', 'ops-hi:ops-m3']);
    expect(await ids('?severity=critical')).toEqual([]);
    expect(await ids(`?site=${SITE}&active=true`)).toEqual(['ops-hi:ops-m1', 'ops-hi:ops-m2', 'ops-hi:ops-m3']);
    expect(await ids('?site=elsewhere')).toEqual([]);
    expect(await ids(`?from=${Date.now() + 60_000}`)).toEqual([]);
    expect((await get('?limit=1')).alarms).toHaveLength(1);
    const bad = await ts.fetch('/api/alarms?state=happy', { role: 'viewer' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('GW_ERR_HTTP_BAD_REQUEST');
    expect((await ts.fetch('/api/alarms?bogus=1', { role: 'viewer' })).status).toBe(400);
  });

  it('a one-key call is the most urgent alarm, taken by one operator; it clears when the call times out', async () => {
    const c = await alarmClient(ts, 'viewer');
    await feed.call(SITE, { ts: Date.now() });
    const raised = await c.next((f) => f.type === 'alarm' && f.transition.alarmId === `call:${SITE}`);
    expect(raised.alarm).toMatchObject({ state: 'unack_active', severity: 1, severityName: 'critical', site: SITE, ruleName: 'One-key call from site (一键呼叫)' });
    const list = await (await ts.fetch('/api/alarms', { role: 'viewer' })).json();
    expect(list.alarms[0].alarmId).toBe(`call:${SITE}`);
    const [first, second] = await Promise.all([act(`call:${SITE}`, 'acknowledge', { comment: 'taking it' }, 'operator'), act(`call:${SITE}`, 'acknowledge', {}, 'admin')]);
    expect([first.status, second.status].sort()).toEqual([200, 409]);
    const loser = first.status === 409 ? first : second;
    expect((await loser.json()).error.message).toMatch(/acknowledged by (operator|admin)/);
    // activeS 2: the call's condition ends, the acknowledged alarm returns to normal
    const cleared = await c.next((f) => f.type === 'alarm' && f.transition.alarmId === `call:${SITE}` && f.transition.reason === 'clear', 6000);
    expect(cleared.transition).toMatchObject({ from: 'ack_active', to: 'normal' });
    await c.close();
  });

  it('a reconnecting client gets the whole current set with its seq, what it missed, and then every transition without a gap', async () => {
    const a = await alarmClient(ts, 'viewer');
    a.ws.send(JSON.stringify({ type: 'alarms' }));
    const snap = await a.next((f) => f.type === 'alarms');
    expect(snap.alarms.map((x: any) => x.alarmId).sort()).toEqual(['ops-hi:ops-m1', 'ops-hi:ops-m2', 'ops-hi:ops-m3']);
    expect(snap.missed).toBeNull();
    await a.close();

    // while it is away: two transitions
    await temp('ops-m3', 40);
    await act('ops-hi:ops-m3', 'acknowledge', {}, 'operator');
    await eventually(async () => (await (await ts.fetch('/api/alarms/ops-hi%3Aops-m3', { role: 'viewer' })).json()).alarm.state === 'normal');

    const b = await connectWs(ts.wsUrl, { cookie: await ts.cookie('viewer') });
    b.ws.send(JSON.stringify({ type: 'alarms', since: snap.seq }));
    const resumed = await b.next((f) => f.type === 'alarms');
    expect(resumed.seq).toBe(snap.seq + 2);
    expect(resumed.missed.map((e: any) => `${e.seq - snap.seq} ${e.alarmId} ${e.reason}`)).toEqual(['1 ops-hi:ops-m3 clear', '2 ops-hi:ops-m3 acknowledge']);
    expect(resumed.alarms.map((x: any) => x.alarmId).sort()).toEqual(['ops-hi:ops-m1', 'ops-hi:ops-m2']);
    await temp('ops-m3', 88);
    const next = await b.next((f) => f.type === 'alarm');
    expect(next.seq).toBe(resumed.seq + 1);
    // bad resume requests are answered, not ignored
    b.ws.send(JSON.stringify({ type: 'alarms', since: -1 }));
    expect((await b.next((f) => f.type === 'error')).code).toBe('GW_ERR_WS_BAD_MESSAGE');
    await b.close();
  });

  it('admins change rules without a restart: validated with every issue by rule id, journaled, written back, applied at once', async () => {
    const put = (url: string, body: unknown, role: TestRole = 'admin') =>
      ts.fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), role });
    expect((await put('/api/alarm-rules/ops-hi', { levels: { hi: { value: 70 } } }, 'operator')).status).toBe(403);

    const bad = await put('/api/alarm-rules', {
      version: 1,
      rules: [
        { id: 'ops-hi', kind: 'threshold', scope: { site: SITE }, quantity: 'temp', levels: { hi: { value: 'high' } } },
        { id: 'tx-load', onDelayS: -5 },
      ],
    });
    expect(bad.status).toBe(400);
    const err = (await bad.json()).error;
    expect(err.code).toBe('GW_ERR_RULES_INVALID');
    expect(err.issues.map((i: any) => [i.ruleId, i.path])).toEqual([
      ['tx-load', 'rule "tx-load" (rules[1], merged onto the default).onDelayS'],
      ['ops-hi', 'rule "ops-hi" (rules[0]).levels.hi.value'],
    ]);
    // nothing changed: 75 °C still under the 80 °C limit
    const c = await alarmClient(ts, 'viewer');
    await temp('ops-m3', 40);
    await temp('ops-m3', 75);
    await new Promise((r) => setTimeout(r, 300));

    const ok = await put('/api/alarm-rules/ops-hi?comment=tighter', { kind: 'threshold', name: 'Room too hot (test)', scope: { site: SITE }, quantity: 'temp', levels: { hi: { value: 70, severity: 'high' } } });
    expect(ok.status).toBe(200);
    const change = await c.next((f) => f.type === 'alarm_rules');
    expect(change.change).toMatchObject({ by: 'admin', ruleId: 'ops-hi', comment: 'tighter' });
    expect((await (await ts.fetch('/api/alarm-rules/ops-hi', { role: 'viewer' })).json()).rule.levels.hi.value).toBe(70);
    // written back as an edit of the file: its comments and order are still there, only the limit changed
    const written = await readFile(ts.rulesFile, 'utf8');
    expect(written).toBe(RULES.replace('value: 80', 'value: 70'));
    const events = await (await ts.fetch('/api/alarm-events?kind=rules', { role: 'viewer' })).json();
    expect(events.events.map((e: any) => [e.by, e.ruleId])).toEqual([['admin', 'ops-hi']]);

    await temp('ops-m3', 76);
    const raised = await c.next((f) => f.type === 'alarm' && f.transition.alarmId === 'ops-hi:ops-m3' && f.transition.reason === 'raise');
    expect(raised.transition.message).toBe('temp 76°C > hi limit 70°C');

    // the rule removed: its active alarms are cleared (nothing else would), after the rules change itself
    const seqBefore = ts.server.alarms.lastSeq;
    const removed = await put('/api/alarm-rules', { version: 1, useDefaults: true, rules: [{ id: 'comm-loss', enabled: false }, { id: 'call', activeS: 2 }] });
    expect(removed.status).toBe(200);
    await eventually(() => c.frames.filter((f) => f.seq > seqBefore).length >= 4);
    await new Promise((r) => setTimeout(r, 200));
    expect(c.frames.filter((f) => f.seq > seqBefore).map((f) => (f.type === 'alarm' ? `${f.transition.alarmId} ${f.transition.from}→${f.transition.to} ${f.transition.reason}` : f.type))).toEqual([
      'alarm_rules',
      'ops-hi:ops-m1 ack_active→normal clear',
      'ops-hi:ops-m2 unack_active→unack_rtn clear',
      'ops-hi:ops-m3 unack_active→unack_rtn clear',
    ]);
    await c.close();
  });

  it('reports alarm-system health (ISA-18.2 figures)', async () => {
    const res = await ts.fetch(`/api/alarm-health?from=${Date.now() - 3_600_000}&position=site`, { role: 'viewer' });
    expect(res.status).toBe(200);
    const h = await res.json();
    expect(h.alarms).toBeGreaterThanOrEqual(5);
    expect(h.positions.map((p: any) => p.position)).toEqual([SITE]);
    expect(h.top[0]).toMatchObject({ alarmId: expect.stringMatching(/^(ops-hi|call):/) });
    expect(h.flood.timeMs).toBe(0);
    expect(h).toHaveProperty('chattering');
    expect(h).toHaveProperty('stale');
  });
});
