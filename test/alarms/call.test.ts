/**
 * The one-key call carries room and caller: a real server, the
 * shared Mosquitto, a call message on `gridwatch/v1/{site}/call`. The alarm
 * carries the room (given, or the site's only room), the caller and the
 * message; hostile fields are left out and the press still raises the alarm.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { alarmClient, Feed, startAlarmServer, testRules, type AlarmTestServer } from './helpers.ts';
import type { RecordingClient } from '../support/ws-client.ts';

const TWO = 'al-call-two';
const ONE = 'al-call-one';
const BAD = 'al-call-bad';
const BIG = 'al-call-big';
const room = (id: string) => `
      - id: ${id}
        name: Room ${id}
        transformers: []`;
const TOPOLOGY = `
sites:
  - id: ${TWO}
    name: Two rooms
    rooms:${room('ra')}${room('rb')}
  - id: ${ONE}
    name: One room
    rooms:${room('r1')}
  - id: ${BAD}
    name: Hostile
    rooms:${room('x1')}${room('x2')}
  - id: ${BIG}
    name: Oversized
    rooms:${room('b1')}
`;
const RULES = testRules();

let ts: AlarmTestServer;
let feed: Feed;
let ws: RecordingClient;
const raised = (site: string) => ws.next((f) => f.type === 'alarm' && f.transition.alarmId === `call:${site}` && f.transition.reason === 'raise');

beforeAll(async () => {
  ts = await startAlarmServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY, rulesYaml: RULES });
  feed = await Feed.open(inject('mqttUrl'), TWO, 'al-call-agent');
  ws = await alarmClient(ts);
});
afterAll(async () => {
  await ws?.close();
  await feed?.close();
  await ts?.close();
});

describe('one-key call with room and caller', () => {
  it('the alarm carries the room, the caller and the message', async () => {
    await feed.call(TWO, { room: 'rb', caller: { name: '王工', phone: '+86 138 0000 0000' }, message: '2# 变压器冒烟' });
    const f = await raised(TWO);
    expect(f.alarm).toMatchObject({ site: TWO, room: 'rb', severityName: 'critical', message: `one-key call from site ${TWO}, room rb, 王工 (+86 138 0000 0000): 2# 变压器冒烟` });
    expect(f.transition.detail).toEqual({ site: TWO, room: 'rb', caller: { name: '王工', phone: '+86 138 0000 0000' }, message: '2# 变压器冒烟' });
    const rest = await (await ts.fetch(`/api/alarms/${encodeURIComponent(`call:${TWO}`)}`, { role: 'viewer' })).json();
    expect(rest.alarm).toMatchObject({ room: 'rb', detail: { caller: { name: '王工' } } });
  });

  it('only the site given: the room comes from the topology when the site has one', async () => {
    await feed.call(ONE);
    const f = await raised(ONE);
    expect(f.alarm).toMatchObject({ site: ONE, room: 'r1', message: `one-key call from site ${ONE}, room r1` });
  });

  it('hostile fields are left out; the press still raises the alarm', async () => {
    await feed.call(BAD, { room: 'nope', caller: { name: 'x'.repeat(200), phone: '<script>' }, message: 'a\u202Eb', ts: 'soon' });
    const f = await raised(BAD);
    expect(f.alarm).toMatchObject({ site: BAD, room: '', message: `one-key call from site ${BAD}` });
    expect(f.transition.detail).toEqual({ site: BAD });
  });

  it('a payload over 4 KiB loses its details, not the press', async () => {
    await feed.call(BIG, { room: 'b1', message: 'x'.repeat(5000) });
    const f = await raised(BIG);
    expect(f.alarm).toMatchObject({ site: BIG, room: 'b1', severityName: 'critical', message: `one-key call from site ${BIG}, room b1` });
    expect(f.transition.detail).toEqual({ site: BIG, room: 'b1' });
  });
});
