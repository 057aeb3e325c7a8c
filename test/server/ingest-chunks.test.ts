/**
 * The ingest holds each accepted message as one item, its readings encoded as
 * one chunk (TelemetryStore.encode). Batches take whole messages up to the
 * batch size in readings (7 here), a larger message (10) alone; messages of
 * 1–10 readings, some with rejected readings between accepted ones. Every
 * accepted reading is stored exactly once, the rejected never, no batch is
 * larger than it may be, and the watermark reaches the last seq. A
 * message's rules run before its encoding and live push, and it is encoded
 * once. Real Mosquitto, real influxd.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readingsTopic, watermarkTopic } from '../../contract/index.ts';
import { influxQuery, startInfluxd, type ServiceHandle } from '../harness/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually } from '../support/ws-client.ts';

const SITE = 'chunk-site';
const db = 'chunks';
let influx: ServiceHandle;
let ts: TestServer;

beforeAll(async () => {
  influx = await startInfluxd();
  ts = await startTestServer({
    mqttUrl: inject('mqttUrl'),
    sites: [SITE],
    influxUrl: influx.url,
    database: db,
    extra: { ingest: { batchSize: 7, flushIntervalMs: 5, writeConcurrency: 3 } },
  });
});
afterAll(async () => {
  await ts?.close();
  await influx?.stop();
});

describe('readings held as encoded chunks', () => {
  it('stores every accepted reading once, batching whole messages', async () => {
    const agent = `chunks-${process.pid}`;
    const pub = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `${agent}-pub` });
    const marks: number[] = [];
    pub.on('message', (_t, p) => marks.push(JSON.parse(p.toString()).seq));
    await pub.subscribeAsync(watermarkTopic(agent), { qos: 1 });
    const t0 = Date.UTC(2026, 6, 1);
    const MESSAGES = 23;
    const SIZES = [10, 3, 1, 4, 6, 2];
    let seq = 0;
    let accepted = 0;
    const expected: Record<string, number> = {};
    let lastC0 = 0;
    for (let m = 0; m < MESSAGES; m++) {
      const readings = Array.from({ length: SIZES[m % SIZES.length]! }, (_, i) => {
        // every third reading of every other message is rejected (voltage of 10⁹ V)
        const bad = m % 2 === 1 && i % 3 === 0;
        if (!bad) {
          accepted++;
          expected[`c${i}`] = (expected[`c${i}`] ?? 0) + 1;
          if (i === 0) lastC0 = 220 + m;
        }
        return { device: `c${i}`, ts: t0 + m * 1000, seq: seq++, v: { ua: bad ? 1e9 : 220 + m, ia: i }, q: 'good' };
      });
      await pub.publishAsync(readingsTopic(SITE, agent), JSON.stringify({ agent, readings }), { qos: 1 });
    }
    await eventually(() => marks.at(-1) === seq - 1, 15_000, `watermark at ${seq - 1}`);
    const res = await influxQuery(influx.url, db, 'SELECT count("ia") FROM reading');
    expect(Number(res[0]?.series?.[0]?.values?.[0]?.[1])).toBe(accepted);
    // each device once per accepted message: no duplicate points, none missing
    const perDevice = await influxQuery(influx.url, db, 'SELECT count("ua") FROM reading GROUP BY "device"');
    const counts = Object.fromEntries((perDevice[0]?.series ?? []).map((s) => [s.tags?.['device'], s.values?.[0]?.[1]]));
    expect(counts).toEqual(expected);
    const last = await influxQuery(influx.url, db, `SELECT "ua" FROM reading WHERE "device" = 'c0' ORDER BY time DESC LIMIT 1`);
    expect(last[0]?.series?.[0]?.values?.[0]?.[1]).toBe(lastC0);
    // batches: whole messages up to 7 readings (a message of 10 alone), so several messages share one and none is larger than 10
    const metrics = await (await ts.fetch('/metrics')).text();
    const figure = (re: RegExp) => Number(metrics.match(re)?.[1] ?? NaN);
    const batches = figure(/^gridwatch_store_batch_size_count (\d+)/m);
    expect(figure(/^gridwatch_store_batch_size_sum (\d+)/m)).toBe(accepted);
    expect(figure(/^gridwatch_store_batch_size_bucket\{le="10"\} (\d+)/m)).toBe(batches);
    expect(batches).toBeLessThan(MESSAGES);
    await pub.endAsync();
  });

  it("runs a message's rules before its encoding and its live push, and encodes it once", async () => {
    const agent = `order-${process.pid}`;
    const { store, ingest, live } = ts.server;
    /** what happened to each message, by its first seq, in order */
    const events: string[] = [];
    const first = (rs: readonly { device: string; ts: number }[]) => rs[0]!.ts;
    ingest.onReadings((rs) => void events.push(`rules ${first(rs)}`));
    const encode = store.encode!;
    store.encode = function (rs) {
      events.push(`encode ${first(rs)}`);
      return encode.call(this, rs);
    };
    const publish = live.publish;
    live.publish = function (rs) {
      if (rs.length) events.push(`live ${first(rs)}`);
      publish.call(this, rs);
    };
    try {
      const pub = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `${agent}-pub` });
      const t0 = Date.UTC(2026, 7, 1);
      const MESSAGES = 40;
      // back to back, not awaited: many arrive together, as after a stall of the server
      const acks = Array.from({ length: MESSAGES }, (_, m) =>
        pub.publishAsync(readingsTopic(SITE, agent), JSON.stringify({ agent, readings: [{ device: 'o1', ts: t0 + m, seq: m, v: { ua: 230 }, q: 'good' }] }), { qos: 1 }),
      );
      await Promise.all(acks);
      await eventually(() => events.filter((e) => e.startsWith('encode')).length >= MESSAGES && events.filter((e) => e.startsWith('live')).length >= MESSAGES, 10_000, 'every message encoded and pushed live');
      await pub.endAsync();
      for (let m = 0; m < MESSAGES; m++) {
        const at = (kind: string) => events.indexOf(`${kind} ${t0 + m}`);
        expect(at('rules'), `message ${m}`).toBeGreaterThanOrEqual(0);
        expect(at('encode'), `message ${m} encoded after its rules`).toBeGreaterThan(at('rules'));
        expect(at('live'), `message ${m} live after its rules`).toBeGreaterThan(at('rules'));
        expect(events.filter((e) => e === `encode ${t0 + m}`), `message ${m} encoded once`).toHaveLength(1);
      }
      // the rules of a message never wait for an encoding of a later one
      const order = events.filter((e) => !e.startsWith('live'));
      for (let i = 1; i < order.length; i++) {
        const [kind, t] = order[i]!.split(' ');
        if (kind !== 'rules') continue;
        const laterEncoded = order.slice(0, i).some((e) => e.startsWith('encode') && Number(e.split(' ')[1]) >= Number(t));
        expect(laterEncoded, order[i]).toBe(false);
      }
    } finally {
      store.encode = encode;
      live.publish = publish;
    }
  });

  it('loses nothing when the encoder throws: the readings are written as they are', async () => {
    const agent = `encfail-${process.pid}`;
    const { store } = ts.server;
    const encode = store.encode!;
    let failures = 0;
    store.encode = function (rs) {
      // the ingest's own encoding of the message fails (the first call, whichever path makes it); the store's write path, which encodes again, works
      if (failures === 0) {
        failures++;
        throw new Error('encoder bug');
      }
      return encode.call(this, rs);
    };
    try {
      const pub = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `${agent}-pub` });
      const marks: number[] = [];
      pub.on('message', (_t, p) => marks.push(JSON.parse(p.toString()).seq));
      await pub.subscribeAsync(watermarkTopic(agent), { qos: 1 });
      const t0 = Date.UTC(2026, 8, 1);
      const readings = Array.from({ length: 5 }, (_, i) => ({ device: 'e1', ts: t0 + i, seq: i, v: { ua: 230 + i }, q: 'good' }));
      await pub.publishAsync(readingsTopic(SITE, agent), JSON.stringify({ agent, readings }), { qos: 1 });
      await eventually(() => marks.at(-1) === 4, 10_000, 'watermark at 4');
      expect(failures).toBeGreaterThan(0);
      const res = await influxQuery(influx.url, db, `SELECT count("ua") FROM reading WHERE "device" = 'e1'`);
      expect(Number(res[0]?.series?.[0]?.values?.[0]?.[1])).toBe(5);
      await pub.endAsync();
    } finally {
      store.encode = encode;
    }
  });
});
