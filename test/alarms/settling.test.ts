/**
 * An agent back online after a loss of contact: each device of its room stays
 * suppressed until it has reported again, or until its own stale rule's time
 * is up — a meter (seconds) is released as soon as it reports, while a room
 * sensor that reports every minute or so is not yet called dead, and a
 * sensor that never comes back then annunciates on its own. Real server,
 * the shared Mosquitto, an agent-shaped feed and its presence messages.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { agentStateTopic } from '../../contract/index.ts';
import { eventually, type RecordingClient } from '../support/ws-client.ts';
import { alarmClient, brief, Feed, oneRoomTopology, startAlarmServer, transitions, type AlarmTestServer, type FeedReading } from './helpers.ts';

const SITE = 'al-settle';
const AGENT = `al-settle-agent-${process.pid}`;
const TOPOLOGY = oneRoomTopology({ site: SITE, name: 'Settling', agent: AGENT, meters: ['st-m1', 'st-m2'], sensors: ['st-s1'] });
const RULES = `
version: 1
useDefaults: true
rules:
  - id: comm-loss
    afterS: 2
  - id: sensor-comm-loss
    afterS: 6
  - id: i-high
    kind: threshold
    quantity: [ia, ib, ic]
    levels: { hi: { value: 170, severity: high } }
`;
const STEADY = { ua: 230, ub: 230, uc: 230, ia: 50, ib: 50, ic: 50, f: 50 };
const sources = new Set(['st-m1', 'st-m2', 'st-s1', AGENT]);

let ts: AlarmTestServer;
let ws: RecordingClient;
let feed: Feed;
let presence: MqttClient;
let timer: NodeJS.Timeout | null = null;

/** Publishes one poll cycle every 200 ms: the meters (st-m1 over the 170 A limit), and the sensor unless `sensor` is false. */
function startPolling(sensor: boolean): void {
  const cycle = (): void => {
    const now = Date.now();
    const rs: FeedReading[] = [
      { device: 'st-m1', ts: now, v: { ...STEADY, ia: 180, ib: 180, ic: 180 } },
      { device: 'st-m2', ts: now, v: STEADY },
    ];
    if (sensor) rs.push({ device: 'st-s1', ts: now, v: { temp: 26, humidity: 55 } });
    void feed.publish(rs);
  };
  cycle();
  timer = setInterval(cycle, 200);
}
function stopPolling(): void {
  if (timer) clearInterval(timer);
  timer = null;
}
const setPresence = (state: 'online' | 'offline') => presence.publishAsync(agentStateTopic(AGENT), state, { qos: 1, retain: true });

beforeAll(async () => {
  feed = await Feed.open(inject('mqttUrl'), SITE, AGENT);
  presence = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `presence-${AGENT}` });
  await setPresence('online');
  startPolling(true);
  ts = await startAlarmServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY, rulesYaml: RULES });
  await eventually(async () => (await (await ts.fetch('/api/alarms?state=unack_active', { role: 'viewer' })).json()).total === 1, 10_000, 'the over-current alarm');
  ws = await alarmClient(ts);
});
afterAll(async () => {
  stopPolling();
  if (presence) {
    // the retained presence must not outlive the test
    await presence.publishAsync(agentStateTopic(AGENT), '', { qos: 1, retain: true });
    await presence.endAsync();
  }
  await feed?.close();
  await ws?.close();
  await ts?.close();
});

describe('an agent back online: each device is released when it reports, or when its own stale time is up', () => {
  it('meters that report are released at once; a silent sensor stays suppressed for its longer stale time, then annunciates alone', async () => {
    const before = brief(ws.frames, sources).length;
    stopPolling();
    await setPresence('offline');
    // offline: the agent alarm; the meters' (2 s) and the sensor's (6 s) comm-loss alarms are born suppressed
    const lost = (await transitions(ws, sources, before + 8, 15_000, 300)).slice(before);
    expect(lost.slice(0, 2)).toEqual(['i-high:st-m1 unack_active→suppressed suppress', `comm-loss:${AGENT} normal→unack_active raise agent_offline`]);
    expect(lost.slice(2).sort()).toEqual([
      'comm-loss:st-m1 normal→suppressed suppress',
      'comm-loss:st-m1 suppressed→suppressed raise stale',
      'comm-loss:st-m2 normal→suppressed suppress',
      'comm-loss:st-m2 suppressed→suppressed raise stale',
      'sensor-comm-loss:st-s1 normal→suppressed suppress',
      'sensor-comm-loss:st-s1 suppressed→suppressed raise stale',
    ]);

    // back online; the meters report again, the sensor stays silent
    const mark = brief(ws.frames, sources).length;
    await setPresence('online');
    startPolling(false);
    const back = (await transitions(ws, sources, mark + 6, 15_000, 0)).slice(mark);
    expect(back[0]).toBe(`comm-loss:${AGENT} unack_active→unack_rtn clear`);
    expect(back.slice(1, 3).sort()).toEqual(['comm-loss:st-m1 suppressed→suppressed clear', 'comm-loss:st-m2 suppressed→suppressed clear']);
    expect(back.slice(3).sort()).toEqual([
      'comm-loss:st-m1 suppressed→normal unsuppress',
      'comm-loss:st-m2 suppressed→normal unsuppress',
      'i-high:st-m1 suppressed→unack_active unsuppress',
    ]);
    // the meters are out; the sensor is still hidden, its time not yet up
    const held = (await (await ts.fetch('/api/alarms?state=suppressed', { role: 'viewer' })).json()).alarms.map((a: any) => a.alarmId);
    expect(held).toEqual(['sensor-comm-loss:st-s1']);
    // its 6 s pass with no report: the sensor is dead, and now it annunciates
    const later = (await transitions(ws, sources, mark + 7, 15_000, 300)).slice(mark + 6);
    expect(later).toEqual(['sensor-comm-loss:st-s1 suppressed→unack_active unsuppress']);

    // the sensor reports again: its alarm returns to normal (unacknowledged)
    stopPolling();
    startPolling(true);
    const again = (await transitions(ws, sources, mark + 8, 15_000, 300)).slice(mark + 7);
    expect(again).toEqual(['sensor-comm-loss:st-s1 unack_active→unack_rtn clear']);
  });
});
