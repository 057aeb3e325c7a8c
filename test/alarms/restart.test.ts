/**
 * Nothing forgotten across a restart: a running on-delay still
 * fires on time after the server restarts in the middle of it (rule state is
 * saved at stop and resumed), and an active unacknowledged alarm is still
 * there, unacknowledged, after a restart (the alarm set is rebuilt from the
 * journal) — with the embedded DuckDB store and with InfluxDB.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { alarmClient, Feed, hotRule, oneRoomTopology, startAlarmServer, testRules, transitions, type AlarmTestServer } from './helpers.ts';

const TOPOLOGY = (site: string) => oneRoomTopology({ site, name: 'Restart', meters: [`${site}-m1`] });
const RULES = testRules(hotRule('hot', 'onDelayS: 6'));

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close().catch(() => undefined);
});

describe('restart', () => {
  it('during an on-delay: the alarm still fires on time', async () => {
    const site = 'al-rs1';
    const device = `${site}-m1`;
    let ts: AlarmTestServer = await startAlarmServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY(site), rulesYaml: RULES });
    const feed = await Feed.open(inject('mqttUrl'), site, `${site}-agent`);
    open.push(feed);
    // 90 °C from t0, every 200 ms, through the restart (readings sent while no server listens are lost, as in real life)
    const t0 = Date.now();
    let stop = false;
    const pump = (async () => {
      while (!stop) {
        await feed.publish([{ device, ts: Date.now(), v: { temp: 90 } }]);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await new Promise((r) => setTimeout(r, 1500));
    const dir = ts.dir;
    await ts.close({ keepData: true });
    const downAt = Date.now() - t0;
    ts = await startAlarmServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY(site), rulesYaml: RULES, dataDir: dir });
    open.push(ts);
    const upAt = Date.now() - t0;
    const ws = await alarmClient(ts);
    open.push(ws);
    const [raise] = await transitions(ws, new Set([device]), 1, 10_000, 0);
    stop = true;
    await pump;
    expect(raise).toBe(`hot:${device} normal→unack_active raise hi`);
    const at = ws.frames.find((f) => f.type === 'alarm')!.transition.at - t0;
    console.log(`on-delay 6 s from t0; server down at ${downAt} ms, up at ${upAt} ms, alarm raised at ${at} ms`);
    expect(upAt).toBeLessThan(5000); // the restart itself finished inside the on-delay
    // on time: 6 s after the condition began (give or take a reading interval and a tick), not 6 s after the restart (≥ upAt + 6 s)
    expect(at).toBeGreaterThanOrEqual(6000);
    expect(at).toBeLessThan(6000 + 1000);
  });

  for (const store of ['duckdb', 'influxdb'] as const) {
    it(`during an active unacknowledged alarm (${store}): still there, unacknowledged, after the restart; seq continues`, async () => {
      const site = `al-rs2-${store}`;
      const device = `${site}-m1`;
      const db = `alarms_restart_${process.pid}_${Date.now()}`;
      const start = (dataDir?: string) =>
        startAlarmServer({
          mqttUrl: inject('mqttUrl'),
          topologyYaml: TOPOLOGY(site),
          rulesYaml: RULES.replace('onDelayS: 6', 'onDelayS: 0'),
          ...(dataDir ? { dataDir } : {}),
          ...(store === 'influxdb' ? { influxUrl: inject('influxUrl'), database: db } : {}),
        });
      let ts = await start();
      const feed = await Feed.open(inject('mqttUrl'), site, `${site}-agent`);
      open.push(feed);
      let ws = await alarmClient(ts);
      const t0 = Date.now();
      await feed.publish([{ device, ts: t0, v: { temp: 95 } }]);
      await transitions(ws, new Set([device]), 1, 10_000, 0);
      const before = (await (await ts.fetch(`/api/alarms/hot%3A${device}`, { role: 'viewer' })).json()).alarm;
      expect(before).toMatchObject({ state: 'unack_active', active: true });
      const seqBefore = ts.server.alarms.lastSeq;
      await ws.close();
      const dir = ts.dir;
      await ts.close({ keepData: true });

      ts = await start(dir);
      open.push(ts);
      const after = (await (await ts.fetch(`/api/alarms/hot%3A${device}`, { role: 'viewer' })).json()).alarm;
      expect(after).toEqual(before);
      expect(ts.server.alarms.lastSeq).toBe(seqBefore);
      ws = await alarmClient(ts);
      open.push(ws);
      ws.ws.send(JSON.stringify({ type: 'alarms', since: seqBefore }));
      const snap = await ws.next((f) => f.type === 'alarms');
      expect(snap).toMatchObject({ seq: seqBefore, missed: [] });
      expect(snap.alarms.map((a: any) => [a.alarmId, a.state])).toEqual([[`hot:${device}`, 'unack_active']]);
      // the condition goes on: no second raise; the operator acknowledges after the restart
      await feed.publish([{ device, ts: Date.now(), v: { temp: 96 } }]);
      const ack = await ts.fetch(`/api/alarms/hot%3A${device}/acknowledge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', role: 'operator' });
      expect(ack.status).toBe(200);
      const frame = await ws.next((f) => f.type === 'alarm');
      expect(frame).toMatchObject({ seq: seqBefore + 1, transition: { reason: 'acknowledge', from: 'unack_active', to: 'ack_active' } });
      const { events } = await (await ts.fetch(`/api/alarms/hot%3A${device}/history`, { role: 'viewer' })).json();
      expect(events.map((e: any) => `${e.seq - seqBefore} ${e.reason}`)).toEqual(['0 raise', '1 acknowledge']);
    });
  }
});
