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

describe('readings the rules cannot take in their own time are counted', () => {
  const count = async (reason: string): Promise<number> => {
    const text = await (await ts.fetch('/metrics')).text();
    return Number(text.match(new RegExp(`gridwatch_readings_out_of_time_total\\{reason="${reason}"\\} (\\d+)`))?.[1] ?? 0);
  };

  it('a redelivered reading counts as not_newer; one an hour ahead as clock_ahead, and is taken as 2 s ahead', async () => {
    const notNewer0 = await count('not_newer');
    const ahead0 = await count('clock_ahead');
    const t = Date.now();
    await feed.replay([[{ device: 'ah-m1', ts: t, v: { ia: 50, ib: 50 } }], [{ device: 'ah-m1', ts: t, v: { ia: 50, ib: 50 } }]]);
    const far = Date.now() + 3_600_000;
    const before = ws.frames.length;
    await feed.publish([{ device: 'ah-m1', ts: far, v: { ia: 180, ib: 50 } }]);
    const got = await transitions(ws, new Set(['ah-m1']), brief(ws.frames, new Set(['ah-m1'])).length + 1, 10_000, 200);
    expect(got.at(-1)).toBe('i-high:ah-m1 unack_rtn→unack_active raise hi');
    const raise = ws.frames.slice(before).find((f) => f.type === 'alarm' && f.transition.source === 'ah-m1');
    // taken as 2 s ahead of the server's clock, not an hour
    expect(raise.transition.at).toBeLessThan(far - 3_500_000);
    expect(await count('not_newer')).toBe(notNewer0 + 1);
    expect(await count('clock_ahead')).toBe(ahead0 + 1);
  });
});
