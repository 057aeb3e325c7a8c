/**
 * Ingest boundary against a real Mosquitto, a real DuckDB file, real Fastify
 * on port 0 and a real WebSocket client: valid readings flow through, hostile
 * ones are rejected with a counted reason and nothing else is disturbed.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readingsTopic, spoolDeviceId, watermarkTopic } from '../../contract/index.ts';
import { connectWs, eventually } from '../support/ws-client.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { memoryLog } from '../support/logger.ts';

const SITE = 'site-a';
const AGENT = `agent-${process.pid}`;
const TOPOLOGY = `
sites:
  - id: ${SITE}
    name: Site A
    rooms:
      - id: room-1
        name: Room 1
        agent: ${AGENT}
        sensors: [dev-ok-1, dev-ok-2, dev-bad]
        transformers:
          - id: t1
            name: T1
            ratedKva: 630
            lines:
              - { id: l1, name: Line 1, ratedCurrentA: 250, meter: dev-1 }
      - id: room-gap
        name: Room gap
        agent: ${AGENT}-gap
        sensors: [dev-gap]
`;

let ts: TestServer;
let pub: MqttClient;
let seq = 0;
const now = () => Date.now();
const msg = (readings: unknown[]) => JSON.stringify({ agent: AGENT, readings });
const good = (over: Record<string, unknown> = {}) => ({ device: 'dev-1', ts: now(), seq: seq++, v: { ua: 229.9, ia: 80.5 }, q: 'good', ...over });

async function rejectedCount(reason: string): Promise<number> {
  const text = await (await ts.fetch('/metrics')).text();
  const m = text.match(new RegExp(`gridwatch_readings_rejected_total\\{reason="${reason}",agent="${AGENT}"\\} (\\d+)`));
  return m ? Number(m[1]) : 0;
}

beforeAll(async () => {
  ts = await startTestServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY });
  pub = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `pub-${AGENT}` });
});
afterAll(async () => {
  await pub?.endAsync();
  await ts?.close();
});

describe('ingest', () => {
  it('stores a valid reading with its topology tags, pushes it live and publishes the watermark', async () => {
    const ws = await connectWs(ts.wsUrl, { cookie: await ts.cookie('viewer') });
    await ws.next((f) => f.type === 'snapshot');
    const wm = await mqtt.connectAsync(inject('mqttUrl'));
    const marks: any[] = [];
    wm.on('message', (_t, p) => marks.push(JSON.parse(p.toString())));
    await wm.subscribeAsync(watermarkTopic(AGENT), { qos: 1 });
    const r = good();
    await pub.publishAsync(readingsTopic(SITE, AGENT), msg([r]), { qos: 1 });
    const frame = await ws.next((f) => f.type === 'readings' && f.readings.some((x: any) => x.ts === r.ts));
    expect(frame.readings.find((x: any) => x.ts === r.ts)).toMatchObject({ device: 'dev-1', site: SITE, room: 'room-1', transformer: 't1', line: 'l1', q: 'good', v: { ua: 229.9, ia: 80.5 } });
    await eventually(() => marks.some((m) => m.seq === r.seq), 10_000, 'watermark');
    const [latest] = await ts.server.store.latest(['dev-1']);
    expect(latest).toMatchObject({ ts: r.ts, line: 'l1', v: { ua: 229.9, ia: 80.5 } });
    await wm.endAsync();
    await ws.close();
  });

  it('moves the watermark over consecutive seqs only: a gap holds it, filling the gap passes both; rejected and agent-settled seqs count as handled', async () => {
    const agent = `${AGENT}-gap`;
    const topic = readingsTopic(SITE, agent);
    const wm = await mqtt.connectAsync(inject('mqttUrl'));
    const marks: number[] = [];
    wm.on('message', (_t, p) => marks.push(JSON.parse(p.toString()).seq));
    await wm.subscribeAsync(watermarkTopic(agent), { qos: 1 });
    const t0 = now();
    const at = (seq: number, over: Record<string, unknown> = {}) => ({ device: 'dev-gap', ts: t0 + seq, seq, v: { ua: 230 }, q: 'good', ...over });
    const send = (seqs: number[], env: Record<string, unknown> = {}) =>
      pub.publishAsync(topic, JSON.stringify({ agent, readings: seqs.map((x) => at(x)), from: 100, next: 300, ...env }), { qos: 1 });
    const storedUpTo = (seq: number) => eventually(async () => (await ts.server.store.latest(['dev-gap']))[0]?.ts === t0 + seq, 10_000, `seq ${seq} stored`);
    const mark = () => ts.server.ingest.watermark(agent);

    await send([100, 101, 102]);
    await eventually(() => mark() === 102, 10_000, 'watermark 102');
    // 103..105 never arrive (a broker lost them): 106..108 are stored, the watermark holds
    await send([106, 107, 108]);
    await storedUpTo(108);
    await ts.server.ingest.drain();
    expect(mark()).toBe(102);
    expect(Math.max(...marks)).toBe(102);
    // the agent resends the missing part: the watermark passes both
    await send([103, 104, 105]);
    await eventually(() => mark() === 108, 10_000, 'watermark 108');
    await eventually(() => marks.includes(108), 10_000, 'watermark 108 published');
    // a reading rejected by validation is handled (sending it again would not help)
    await pub.publishAsync(topic, JSON.stringify({ agent, readings: [at(109), at(110, { v: { f: 5000 } }), at(111)], from: 100, next: 300 }), { qos: 1 });
    await eventually(() => mark() === 111, 10_000, 'watermark 111 over a rejected reading');
    // seqs below the agent's `from` are settled by the agent (its quota dropped 112..199): the watermark jumps them
    await send([200, 201], { from: 200 });
    await eventually(() => mark() === 201, 10_000, 'watermark 201 after the agent settled 112..199');
    // seqs the agent cannot read back from its spool (skip) are handled
    await pub.publishAsync(topic, JSON.stringify({ agent, readings: [at(204)], from: 200, next: 300, skip: [[202, 203]] }), { qos: 1 });
    await eventually(() => mark() === 204, 10_000, 'watermark 204 over skipped 202..203');
    // the agent's seq went back (a new spool): the watermark starts again where that spool starts
    await send([5, 6], { from: 5, next: 7 });
    await eventually(() => mark() === 6, 10_000, 'watermark restarted at the new spool');
    await eventually(() => marks.at(-1) === 6, 10_000, 'the lower watermark published');
    await wm.endAsync();
  });

  it('a restarted server rebuilds an agent watermark from the from of its messages, and still holds it at a gap', async () => {
    const site = `restart-${process.pid}`;
    const agent = `${AGENT}-restart`;
    const topic = readingsTopic(site, agent);
    const t0 = now();
    const send = (seqs: number[], from: number) =>
      pub.publishAsync(topic, JSON.stringify({ agent, readings: seqs.map((seq) => ({ device: 'dev-r', ts: t0 + seq, seq, v: { ua: 230 }, q: 'good' })), from, next: 100 }), { qos: 1 });
    const first = await startTestServer({ mqttUrl: inject('mqttUrl'), sites: [site] });
    await send([0, 1, 2, 3, 4], 0);
    await eventually(() => first.server.ingest.watermark(agent) === 4, 10_000, 'watermark 4');
    await first.close();
    // a new process: nothing in memory; the agent (which applied 4) now holds 5.. and says so
    const second = await startTestServer({ mqttUrl: inject('mqttUrl'), sites: [site] });
    try {
      await send([7, 8], 5);
      await eventually(async () => (await second.server.store.latest(['dev-r']))[0]?.ts === t0 + 8, 10_000, 'seq 8 stored');
      await second.server.ingest.drain();
      expect(second.server.ingest.watermark(agent)).toBe(4);
      await send([5, 6], 5);
      await eventually(() => second.server.ingest.watermark(agent) === 8, 10_000, 'watermark 8');
    } finally {
      await second.close();
    }
  });

  const hostile: Array<[string, string | Buffer, string]> = [
    ['invalid JSON', '{"agent":', 'invalid_json'],
    ['not an object', '[1,2,3]', 'wrong_type'],
    ['missing readings', JSON.stringify({ agent: AGENT }), 'missing_field'],
    ['unknown top-level key', JSON.stringify({ agent: AGENT, readings: [], evil: true }), 'unknown_key'],
    ['agent of another topic', JSON.stringify({ agent: 'someone-else', readings: [] }), 'agent_mismatch'],
    ['Infinity through 1e999', `{"agent":"${AGENT}","readings":[{"device":"dev-1","ts":${Date.now()},"seq":1,"v":{"ua":1e999},"q":"good"}]}`, 'not_finite'],
    ['a voltage of 1e9', msg([good({ v: { ua: 1e9 } })]), 'out_of_range'],
    ['string value', msg([good({ v: { ua: '230' } })]), 'wrong_type'],
    ['unknown quantity', msg([good({ v: { volts: 230 } })]), 'unknown_quantity'],
    ['derived quantity sent by an agent', msg([good({ v: { load_rate: 50 } })]), 'derived_quantity'],
    ['timestamp in seconds', msg([good({ ts: Math.floor(Date.now() / 1000) })]), 'out_of_range'],
    ['bad quality', msg([good({ q: 'fine' })]), 'wrong_type'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'invalid_json'],
    ['5 MB payload', Buffer.alloc(5 * 1024 * 1024, 0x20), 'too_large'],
  ];
  for (const [name, payload, reason] of hostile) {
    it(`rejects ${name} as ${reason}, counts it, and keeps running`, async () => {
      const before = await rejectedCount(reason);
      await pub.publishAsync(readingsTopic(SITE, AGENT), payload, { qos: 1 });
      await eventually(async () => (await rejectedCount(reason)) === before + 1, 10_000, `${reason} counted`);
      const health = await (await ts.fetch('/api/health')).json();
      expect(health.broker.connected).toBe(true);
    });
  }

  it("stores the agent's own spool pseudo-device; rejects a device outside the topology as unknown_device, counted and logged once", async () => {
    const { log, lines } = memoryLog('warn');
    const site = `site-spool-${process.pid}`;
    const agent = `${AGENT}-spool`;
    const topology = `
sites:
  - id: ${site}
    name: Spool
    rooms:
      - { id: r1, name: R1, agent: ${agent}, sensors: [spool-meter] }
`;
    const own = await startTestServer({ mqttUrl: inject('mqttUrl'), log, topologyYaml: topology });
    try {
      const t0 = now();
      const readings = [
        { device: spoolDeviceId(agent), ts: t0, seq: 0, v: { lost_readings: 0 }, q: 'good' },
        { device: 'stray-1', ts: t0, seq: 1, v: { ua: 230 }, q: 'good' },
        { device: 'stray-1', ts: t0 + 1, seq: 2, v: { ua: 231 }, q: 'good' },
        { device: 'spool-meter', ts: t0, seq: 3, v: { ua: 232 }, q: 'good' },
      ];
      await pub.publishAsync(readingsTopic(site, agent), JSON.stringify({ agent, readings }), { qos: 1 });
      await eventually(async () => (await own.server.store.latest([spoolDeviceId(agent), 'spool-meter'])).length === 2, 10_000, 'spool and meter stored');
      await eventually(() => own.server.ingest.watermark(agent) === 3, 10_000, 'the rejected readings are handled');
      expect(await own.server.store.latest(['stray-1'])).toEqual([]);
      const text = await (await own.fetch('/metrics')).text();
      expect(text).toContain(`gridwatch_readings_rejected_total{reason="unknown_device",agent="${agent}"} 2`);
      const unknown = lines.filter((l) => l.reason === 'unknown_device');
      expect(unknown).toHaveLength(1);
      expect(unknown[0]).toMatchObject({ deviceId: 'stray-1', agent });
    } finally {
      await own.close();
    }
  });

  it('keeps the good readings of a message and drops only the bad one', async () => {
    const before = await rejectedCount('out_of_range');
    const a = good({ device: 'dev-ok-1' });
    const bad = good({ device: 'dev-bad', v: { f: 5000 } });
    const b = good({ device: 'dev-ok-2' });
    await pub.publishAsync(readingsTopic(SITE, AGENT), msg([a, bad, b]), { qos: 1 });
    await eventually(async () => (await ts.server.store.latest(['dev-ok-1', 'dev-ok-2'])).length === 2, 10_000, 'good readings stored');
    expect(await ts.server.store.latest(['dev-bad'])).toEqual([]);
    expect(await rejectedCount('out_of_range')).toBe(before + 1);
  });

  it('answers hostile HTTP with JSON errors that carry a stable code', async () => {
    const base = ts.server.url;
    const cases: Array<[string, number]> = [
      ['/api/history', 400],
      ['/api/history?device=a&quantity=ua&from=yesterday', 400],
      ['/api/history?device=a&quantity=volts&from=0', 400],
      ['/api/history?device=a&quantity=ua&from=2000&to=1000', 400],
      ['/api/history?device=a&quantity=ua&from=0&step=-5', 400],
      ['/api/latest?evil=1', 400],
      ['/api/nothing-here', 404],
    ];
    for (const [url, status] of cases) {
      const res = await ts.fetch(base + url);
      expect(res.status, url).toBe(status);
      const body = await res.json();
      expect(body.error.code, url).toMatch(/^GW_ERR_HTTP_/);
    }
  });

  it('answers hostile WebSocket input with an error frame, and closes on an oversized frame', async () => {
    const ws = await connectWs(ts.wsUrl, { cookie: await ts.cookie('viewer') });
    await ws.next((f) => f.type === 'snapshot');
    ws.ws.send('not json');
    await ws.next((f) => f.type === 'error' && f.code === 'GW_ERR_WS_BAD_MESSAGE');
    ws.ws.send(JSON.stringify({ type: 'subscribe', devices: 'all' }));
    await ws.next((f) => f.type === 'error' && /devices/.test(f.message));
    ws.ws.send(JSON.stringify({ type: 'subscribe', devices: ['dev-1'] }));
    const snap = await ws.next((f) => f.type === 'snapshot' && f.readings.length === 1);
    expect(snap.readings[0].device).toBe('dev-1');
    const closed = new Promise<number>((resolve) => ws.ws.once('close', (code) => resolve(code)));
    ws.ws.send('x'.repeat(200_000));
    expect(await closed).toBe(1009);
  });
});
