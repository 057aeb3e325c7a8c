/**
 * The InfluxDB store holds a message's readings as one encoded chunk on the
 * item of its first reading (TelemetryStore.encode). Batches are cut by
 * reading count, so they cut messages: here every batch (7 readings) cuts a
 * message (10), and rejected readings sit between accepted ones. Every
 * accepted reading is stored exactly once, the rejected never, and the
 * watermark reaches the last seq. Real Mosquitto, real influxd.
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
  it('stores every accepted reading once when batches cut messages', async () => {
    const agent = `chunks-${process.pid}`;
    const pub = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `${agent}-pub` });
    const marks: number[] = [];
    pub.on('message', (_t, p) => marks.push(JSON.parse(p.toString()).seq));
    await pub.subscribeAsync(watermarkTopic(agent), { qos: 1 });
    const t0 = Date.UTC(2026, 6, 1);
    const MESSAGES = 23;
    let seq = 0;
    let accepted = 0;
    for (let m = 0; m < MESSAGES; m++) {
      const readings = Array.from({ length: 10 }, (_, i) => {
        // every third reading of every other message is rejected (voltage of 10⁹ V)
        const bad = m % 2 === 1 && i % 3 === 0;
        if (!bad) accepted++;
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
    for (let i = 0; i < 10; i++) expect(counts[`c${i}`]).toBe(i % 3 === 0 ? Math.ceil(MESSAGES / 2) : MESSAGES);
    const last = await influxQuery(influx.url, db, `SELECT "ua" FROM reading WHERE "device" = 'c4' ORDER BY time DESC LIMIT 1`);
    expect(last[0]?.series?.[0]?.values?.[0]?.[1]).toBe(220 + MESSAGES - 1);
    await pub.endAsync();
  });
});
