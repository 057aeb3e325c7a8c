/**
 * Agents whose clock runs ahead of the server's (NTP keeps them within
 * milliseconds, rarely a second): their readings count in their own time.
 * Real server, the shared Mosquitto, an agent-shaped feed, a WebSocket client.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RecordingClient } from '../support/ws-client.ts';
import { alarmClient, brief, Feed, oneRoomTopology, startAlarmServer, testRules, transitions, type AlarmTestServer } from './helpers.ts';

const SITE = 'al-ahead';
const AGENT = `al-ahead-agent-${process.pid}`;
const TOPOLOGY = oneRoomTopology({ site: SITE, name: 'Clock ahead', agent: AGENT, meters: ['ah-m1', 'ah-m2'] });
const RULES = testRules(`- id: i-high
kind: threshold
quantity: ia
levels: { hi: { value: 170, severity: high } }`, `- id: i-high-3s
kind: threshold
quantity: ib
levels: { hi: { value: 170, severity: high } }
onDelayS: 3`);

let ts: AlarmTestServer;
let ws: RecordingClient;
let feed: Feed;

beforeAll(async () => {
  ts = await startAlarmServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY, rulesYaml: RULES });
  ws = await alarmClient(ts);
  feed = await Feed.open(inject('mqttUrl'), SITE, AGENT);
});
afterAll(async () => {
  await feed?.close();
  await ws?.close();
  await ts?.close();
});

describe('readings stamped ahead of the server clock', () => {
  it('messages half a second ahead that arrive back to back each count: raise, clear, raise — none taken for a redelivery', async () => {
    const t = Date.now() + 500;
    const m = (i: number, ia: number) => [{ device: 'ah-m1', ts: t + i, v: { ia, ib: 50 } }];
    await feed.replay([m(0, 180), m(1, 50), m(2, 180), m(3, 50)]);
    const got = await transitions(ws, new Set(['ah-m1']), 4, 10_000, 300);
    expect(got).toEqual([
      'i-high:ah-m1 normal→unack_active raise hi',
      'i-high:ah-m1 unack_active→unack_rtn clear',
      'i-high:ah-m1 unack_rtn→unack_active raise hi',
      'i-high:ah-m1 unack_active→unack_rtn clear',
    ]);
    const at = ws.frames.filter((f) => f.type === 'alarm' && f.transition.source === 'ah-m1').map((f) => f.transition.at - t);
    expect(at).toEqual([0, 1, 2, 3]);
  });

  it("an on-delay ends on the agent's clock, 1.5 s ahead: the alarm fires before the server's clock reaches its end", async () => {
    const t = Date.now() + 1500;
    await feed.publish([{ device: 'ah-m2', ts: t, v: { ia: 50, ib: 180 } }]);
    const got = await transitions(ws, new Set(['ah-m2']), 1, 10_000, 0);
    expect(got).toEqual(['i-high-3s:ah-m2 normal→unack_active raise hi']);
    const raise = ws.frames.find((f) => f.type === 'alarm' && f.transition.source === 'ah-m2');
    // ticked on the agent's timeline, at the end of the on-delay in the agent's time
    expect(raise.transition.at).toBeGreaterThanOrEqual(t + 3000);
    // the server's clock had not reached it yet (on the server's own timeline it would wait 1.5 s more)
    expect(Date.now()).toBeLessThan(t + 3000);
  });
});
