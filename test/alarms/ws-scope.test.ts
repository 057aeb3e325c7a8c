/**
 * Alarm frames follow the client's subscription: a WebSocket client
 * subscribed to some sites or rooms gets only their alarm frames and a
 * snapshot narrowed the same way; `prevSeq` lets it tell a seq jump over
 * other sites' frames from a real gap. An unfiltered client gets every frame
 * with `prevSeq = seq - 1`. Real server, real broker, real WebSocket clients.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { alarmClient, Feed, hotRule, startAlarmServer, testRules, type AlarmTestServer } from './helpers.ts';
import { eventually, type RecordingClient } from '../support/ws-client.ts';

const A = 'al-scope-a';
const B = 'al-scope-b';
/** a room with one transformer and one metered line */
const room = (id: string, t: string, meter: string, agent?: string) => `
      - id: ${id}
        name: Room ${id}${agent ? `\n        agent: ${agent}` : ''}
        transformers:
          - { id: ${t}, name: "${t}", ratedKva: 400, lines: [{ id: l-${meter}, name: L, ratedCurrentA: 200, meter: ${meter} }] }`;
const TOPOLOGY = `
sites:
  - id: ${A}
    name: Site A
    rooms:${room('ra1', 't1', 'scope-a1', 'al-scope-agent-a')}${room('ra2', 't2', 'scope-a2')}
  - id: ${B}
    name: Site B
    rooms:${room('rb1', 't1', 'scope-b1', 'al-scope-agent-b')}
`;
const RULES = testRules(hotRule('scope-hot'));

let ts: AlarmTestServer;
let feedA: Feed;
let feedB: Feed;
let all: RecordingClient;
let siteA: RecordingClient;
let roomA1: RecordingClient;
let tNext = Date.now();
const hot = (feed: Feed, device: string) => feed.publish([{ device, ts: (tNext = Math.max(Date.now(), tNext + 1)), v: { temp: 90 } }]);

async function scoped(filter: Record<string, string[]>): Promise<RecordingClient> {
  const c = await alarmClient(ts);
  c.ws.send(JSON.stringify({ type: 'subscribe', ...filter }));
  await c.next((f) => f.type === 'snapshot' && c.frames.filter((x) => x.type === 'snapshot').length === 2);
  return c;
}

const alarmFrames = (c: RecordingClient) => c.frames.filter((f) => f.type === 'alarm');

beforeAll(async () => {
  ts = await startAlarmServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY, rulesYaml: RULES });
  feedA = await Feed.open(inject('mqttUrl'), A, 'al-scope-agent-a');
  feedB = await Feed.open(inject('mqttUrl'), B, 'al-scope-agent-b');
  all = await alarmClient(ts);
  siteA = await scoped({ sites: [A] });
  roomA1 = await scoped({ rooms: ['ra1'] });
});
afterAll(async () => {
  await Promise.all([all, siteA, roomA1].map((c) => c?.close()));
  await feedA?.close();
  await feedB?.close();
  await ts?.close();
});

describe('alarm frames follow the subscription', () => {
  it('a site- or room-scoped client gets only its alarms; prevSeq chains its own frames; the unfiltered one gets all', async () => {
    // interleaved: B, A room 1, B, A room 2, B
    await hot(feedB, 'scope-b1');
    await eventually(() => alarmFrames(all).length >= 1, 10_000, 'the first alarm');
    await hot(feedA, 'scope-a1');
    await eventually(() => alarmFrames(all).length >= 2, 10_000, 'the second alarm');
    await feedB.call(B);
    await eventually(() => alarmFrames(all).length >= 3, 10_000, 'the call');
    await hot(feedA, 'scope-a2');
    await eventually(() => alarmFrames(all).length >= 4, 10_000, 'the fourth alarm');
    await feedB.call(B, { ts: Date.now() - 1 }); // an earlier press: no new alarm frame
    await eventually(() => alarmFrames(all).length >= 4, 10_000, 'settle');
    await new Promise((r) => setTimeout(r, 500));

    const ids = (c: RecordingClient) => alarmFrames(c).map((f) => f.alarm.alarmId);
    expect(ids(all)).toEqual(['scope-hot:scope-b1', 'scope-hot:scope-a1', `call:${B}`, 'scope-hot:scope-a2']);
    expect(ids(siteA)).toEqual(['scope-hot:scope-a1', 'scope-hot:scope-a2']);
    expect(ids(roomA1)).toEqual(['scope-hot:scope-a1']);

    // unfiltered: no jumps, prevSeq = seq - 1 after the first
    const s = alarmFrames(all).map((f) => f.seq as number);
    expect(s).toEqual([s[0]!, s[0]! + 1, s[0]! + 2, s[0]! + 3]);
    expect(alarmFrames(all).slice(1).map((f) => f.prevSeq)).toEqual(s.slice(0, -1));
    // site A: its seq jumps over B's frames, and prevSeq says it missed nothing
    const a = alarmFrames(siteA);
    expect(a.map((f) => f.seq)).toEqual([s[1], s[3]]);
    expect(a.map((f) => f.prevSeq)).toEqual([0, s[1]]);
  });

  it('the snapshot and the missed entries on resume are narrowed the same way', async () => {
    const first = alarmFrames(all)[0]!.seq as number;
    siteA.ws.send(JSON.stringify({ type: 'alarms', since: first - 1 }));
    const snap = await siteA.next((f) => f.type === 'alarms');
    expect(snap.alarms.map((x: any) => x.alarmId).sort()).toEqual(['scope-hot:scope-a1', 'scope-hot:scope-a2']);
    expect(snap.missed.map((e: any) => e.alarmId)).toEqual(['scope-hot:scope-a1', 'scope-hot:scope-a2']);
    all.ws.send(JSON.stringify({ type: 'alarms' }));
    const full = await all.next((f) => f.type === 'alarms');
    expect(full.alarms).toHaveLength(4);
    expect(full.seq).toBe(snap.seq);
  });
});
