/**
 * Scenario replays through the whole server: agent-shaped MQTT messages on a
 * real Mosquitto → ingest → rules → alarms → a real WebSocket client, with a
 * real DuckDB store. Each scenario asserts the exact alarm transitions of its
 * meters, in order, and nothing else.
 *
 * Replays are stamped in the past (a poll cycle per message, one data-second
 * apart, published as fast as the broker takes them): the rules run on the
 * readings' own timestamps, so an hour of feed with GB/T 1-min means, a
 * 10-min on-delay and a 10-min unbalance interval is replayed in about a
 * second of wall clock, with exact transition times.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RecordingClient } from '../support/ws-client.ts';
import { alarmClient, brief, Feed, replayBase, S, startAlarmServer, transitions, type AlarmTestServer, type FeedReading } from './helpers.ts';

const SITE = 'al-scn';
const AGENT = 'al-scn-agent';
const TOPOLOGY = `
sites:
  - id: ${SITE}
    name: Scenarios
    rooms:
      - id: r1
        name: Room 1
        agent: ${AGENT}
        transformers:
          - { id: t-ovl, name: OVL, ratedKva: 100, meter: ovl-mt }
          - id: t-out
            name: "1#"
            ratedKva: 400
            meter: out-mt
            lines:
              - { id: l-out1, name: Out 1, ratedCurrentA: 200, meter: out-m1 }
              - { id: l-out2, name: Out 2, ratedCurrentA: 200, meter: out-m2 }
          - id: t-live
            name: "2#"
            ratedKva: 400
            meter: live-mt
            lines:
              - { id: l-live1, name: Live 1, ratedCurrentA: 200, meter: live-m1 }
          - id: t-v
            name: "3#"
            ratedKva: 400
            lines:
              - { id: l-sag, name: Sag, ratedCurrentA: 200, meter: sag-m }
              - { id: l-ph, name: Phase, ratedCurrentA: 200, meter: ph-m }
              - { id: l-flap, name: Flap, ratedCurrentA: 100, meter: flap-m }
              - { id: l-late, name: Late, ratedCurrentA: 200, meter: late-m }
`;

// The built-in GB/T and State Grid rules, with delays a replay can show in a test.
const RULES = `
version: 1
useDefaults: true
rules:
  - id: comm-loss
    enabled: false           # replays stop when a scenario ends; dead meters have their own test
  - id: tx-load
    onDelayS: 600            # 10 min instead of 2 h
    offDelayS: 120
  - id: u-deviation
    offDelayS: 60
  - id: outage
    releaseS: 3
  - id: line-heavy
    kind: threshold
    scope: { role: line }
    quantity: load_rate
    levels: { hi: { value: 90, severity: medium } }
    deadband: 5
    onDelayS: 10
    offDelayS: 60
  - id: hot
    kind: threshold
    scope: { device: late-m }
    quantity: temp
    levels: { hi: { value: 80, severity: high } }
`;

let ts: AlarmTestServer;
let feed: Feed;
let ws: RecordingClient;
const BASE = replayBase(120);

beforeAll(async () => {
  ts = await startAlarmServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY, rulesYaml: RULES });
  feed = await Feed.open(inject('mqttUrl'), SITE, AGENT);
  ws = await alarmClient(ts);
});
afterAll(async () => {
  await ws?.close();
  await feed?.close();
  await ts?.close();
});

const phases = (u: number, i = 50) => ({ ua: u, ub: u, uc: u, ia: i, ib: i, ic: i });
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** One message per data step: `at(t)` gives the readings at t seconds after BASE. */
function timeline(fromS: number, toS: number, stepS: number, at: (t: number) => FeedReading[] | FeedReading): FeedReading[][] {
  const out: FeedReading[][] = [];
  for (let t = fromS; t <= toS; t += stepS) {
    const r = at(t);
    out.push(Array.isArray(r) ? r : [r]);
  }
  return out;
}

describe('scenario replays: exact transitions, in order, nothing else', () => {
  it('overload ramp of a transformer: heavy load after its 10-min on-delay, overload 10 min later, one clear', async () => {
    // load rate 60 % for 10 min, ramp to 120 % over 30 min (80 % at 20:00, 100 % at 30:00), hold, drop to 50 % at 60:00
    const load = (t: number) => (t < 600 ? 60 : t < 2400 ? 60 + ((t - 600) * 60) / 1800 : t < 3600 ? 120 : 50);
    await feed.replay(timeline(0, 4200, 5, (t) => ({ device: 'ovl-mt', ts: BASE + t * S, v: { ua: 230, ub: 230, uc: 230, s: round3(load(t)) } })));
    const got = await transitions(ws, new Set(['ovl-mt']), 3);
    expect(got).toEqual([
      'tx-load:ovl-mt normal→unack_active raise hi',
      'tx-load:ovl-mt unack_active→unack_active level hihi',
      'tx-load:ovl-mt unack_active→unack_rtn clear',
    ]);
    // first sample above 80 % at 20:05, above 100 % at 30:05; below the deadband from 60:00, off-delay 2 min
    const at = ws.frames.filter((f) => f.type === 'alarm' && f.transition.source === 'ovl-mt').map((f) => (f.transition.at - BASE) / S);
    expect(at).toEqual([1805, 2405, 3720]);
    const hihi = ws.frames.find((f) => f.type === 'alarm' && f.transition.level === 'hihi');
    expect(hihi.transition.severity).toBe(2);
    expect(hihi.alarm).toMatchObject({ state: 'unack_active', severityName: 'high', site: SITE, transformer: 't-ovl', ruleName: 'Transformer heavy load / overload (重载/过载)' });
  });

  it('voltage sag: judged on the 1-min mean (GB/T 12325) — a 10-s dip does not raise, a sag of two minutes raises once', async () => {
    // minute 0: 220 V with 10 s at 150 V (mean 208 V); minutes 1–2: 190 V; then 220 V
    const u = (t: number) => (t < 60 ? (t >= 20 && t < 30 ? 150 : 220) : t < 180 ? 190 : 220);
    await feed.replay(timeline(0, 300, 1, (t) => ({ device: 'sag-m', ts: BASE + t * S, v: phases(u(t)) })));
    expect(await transitions(ws, new Set(['sag-m']), 2)).toEqual([
      'u-deviation:sag-m normal→unack_active raise lo',
      'u-deviation:sag-m unack_active→unack_rtn clear',
    ]);
    const [raise, clear] = ws.frames.filter((f) => f.type === 'alarm' && f.transition.source === 'sag-m').map((f) => f.transition);
    // minute 1 closes with the first reading of minute 2; minute 3 (back to normal) closes at 4:00, off-delay 60 s from 3:00
    expect([(raise.at - BASE) / S, (clear.at - BASE) / S]).toEqual([120, 240]);
    expect(raise.message).toBe('ua,ub,uc 1-min mean 190 V < lo limit 198 V');
  });

  it('phase loss: unbalance at once (short-time, GB/T 15543), voltage on the minute mean, and the 10-min unbalance value it leaves behind', async () => {
    // phase C lost for 90 s from 1:00: no voltage and no current on it (with its current flowing it would be a meter's voltage loss, 失压)
    const lost = (t: number) => t >= 60 && t < 150;
    await feed.replay(timeline(0, 610, 1, (t) => ({ device: 'ph-m', ts: BASE + t * S, v: { ...phases(220), uc: lost(t) ? 0 : 220, ic: lost(t) ? 0 : 50 } })));
    expect(await transitions(ws, new Set(['ph-m']), 5)).toEqual([
      'u-unbalance:ph-m normal→unack_active raise short_time', // 1:03 (3-s on-delay)
      'u-deviation:ph-m normal→unack_active raise lo', // 2:00, minute 1's mean
      'u-unbalance:ph-m unack_active→unack_rtn clear', // 3:30, off-delay 60 s
      'u-deviation:ph-m unack_active→unack_rtn clear', // 4:00
      'u-unbalance:ph-m unack_rtn→unack_active raise normal', // 10:00: the 10-min mean is 15 % > 2 %
    ]);
    const at = ws.frames.filter((f) => f.type === 'alarm' && f.transition.source === 'ph-m').map((f) => (f.transition.at - BASE) / S);
    expect(at).toEqual([63, 120, 210, 240, 600]);
  });

  it('outage under one transformer: ONE alarm on the transformer listing its lines and meters; the meters\' alarms are born suppressed and released', async () => {
    const under = ['out-mt', 'out-m1', 'out-m2'];
    const meters = [...under, 'live-mt', 'live-m1'];
    const dark = (m: string, t: number) => under.includes(m) && t >= 60 && t < 90;
    // each meter in its own message, as an agent polling them a moment apart sends them
    const messages: FeedReading[][] = [];
    for (let t = 0; t < 300; t++)
      for (const m of meters) {
        const off = dark(m, t);
        const v = m.endsWith('mt') ? { ...phases(off ? 0 : 225, off ? 0 : 50), s: off ? 0 : 100 } : phases(off ? 0 : 225, off ? 0 : 50);
        messages.push([{ device: m, ts: BASE + t * S, v }]);
      }
    await feed.replay(messages);
    const sources = new Set([...meters, `${SITE}/t-out`, `${SITE}/t-live`]);
    const got = await transitions(ws, sources, 14, 20_000, 500);
    expect(got).toEqual([
      `outage:${SITE}/t-out normal→unack_active raise dark`,
      `outage:${SITE}/t-out unack_active→unack_rtn clear`,
      ...under.flatMap((m) => [`u-deviation:${m} normal→suppressed suppress`, `u-deviation:${m} suppressed→suppressed raise lo`]),
      ...under.map((m) => `u-deviation:${m} suppressed→suppressed clear`),
      ...under.map((m) => `u-deviation:${m} suppressed→normal unsuppress`),
    ]);
    const res = await ts.fetch(`/api/alarms/${encodeURIComponent(`outage:${SITE}/t-out`)}`);
    expect(res.status).toBe(200);
    const { alarm } = await res.json();
    expect(alarm).toMatchObject({
      state: 'unack_rtn',
      severity: 1,
      site: SITE,
      room: 'r1',
      transformer: 't-out',
      detail: { scope: 'transformer', lines: ['l-out1', 'l-out2'], meters: under, unknownMeters: [] },
    });
    expect(alarm.message).toBe('outage of transformer 1# (al-scn/t-out) in Room 1: 2 line(s) l-out1, l-out2 without supply; meters dark: out-mt, out-m1, out-m2');
  });

  it('a value flapping around a limit for ten minutes gives one alarm, not dozens', async () => {
    // line load rate around its 90 % limit for 10 min (deadband 5, on-delay 10 s, off-delay 60 s), then 60 %
    const load = (t: number) => (t < 60 || t >= 660 ? (t < 60 ? 70 : 60) : round3(90 + 2.5 * Math.sin((2 * Math.PI * (t - 60)) / 24) + 0.8 * Math.sin((2 * Math.PI * t) / 5.3)));
    const data = timeline(0, 780, 1, (t) => ({ device: 'flap-m', ts: BASE + t * S, v: phases(230, load(t)) }));
    let crossings = 0;
    for (let t = 1; t <= 780; t++) if (load(t - 1) <= 90 && load(t) > 90) crossings++;
    expect(crossings).toBe(30); // a bare threshold would raise 30 alarms
    await feed.replay(data);
    expect(await transitions(ws, new Set(['flap-m']), 2, 15_000, 500)).toEqual([
      'line-heavy:flap-m normal→unack_active raise hi',
      'line-heavy:flap-m unack_active→unack_rtn clear',
    ]);
    const clear = ws.frames.find((f) => f.type === 'alarm' && f.transition.source === 'flap-m' && f.transition.reason === 'clear');
    expect((clear.transition.at - BASE) / S).toBe(720);
  });

  it('a late (backfilled) reading is stored but raises and clears nothing', async () => {
    const t0 = Date.now();
    await feed.publish([{ device: 'late-m', ts: t0 - 5000, v: { temp: 95 }, late: true }]);
    await new Promise((r) => setTimeout(r, 600));
    expect(brief(ws.frames, new Set(['late-m']))).toEqual([]);
    await feed.publish([{ device: 'late-m', ts: t0, v: { temp: 95 } }]);
    await transitions(ws, new Set(['late-m']), 1, 10_000, 0);
    await feed.publish([{ device: 'late-m', ts: t0 + 100, v: { temp: 40 }, late: true }]);
    await new Promise((r) => setTimeout(r, 600));
    expect(brief(ws.frames, new Set(['late-m']))).toEqual(['hot:late-m normal→unack_active raise hi']);
    await feed.publish([{ device: 'late-m', ts: t0 + 200, v: { temp: 40 } }]);
    expect(await transitions(ws, new Set(['late-m']), 2)).toEqual(['hot:late-m normal→unack_active raise hi', 'hot:late-m unack_active→unack_rtn clear']);
    // both late readings are in the store, with their own timestamps
    await ts.server.ingest.drain();
    const [series] = await ts.server.store.history({ devices: ['late-m'], quantities: ['temp'], from: t0 - 10_000, to: t0 + 1000 });
    expect(series!.ts).toEqual([t0 - 5000, t0, t0 + 100, t0 + 200]);
  });

  it('every transition went out once, with consecutive sequence numbers', () => {
    const seqs = ws.frames.filter((f) => f.type === 'alarm').map((f) => f.seq);
    expect(seqs.length).toBeGreaterThan(20);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1] + 1);
    for (const f of ws.frames.filter((x) => x.type === 'alarm')) expect(f.transition.seq).toBe(f.seq);
  });
});
