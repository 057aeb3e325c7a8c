/**
 * InfluxDB stopped under load (25 s here, GW_TEST_OUTAGE_S=60 for a
 * minute), then restarted: nothing is
 * missing afterwards, nothing duplicated, and the server's queue stays
 * bounded meanwhile (past `maxPending` it withholds MQTT acks and the broker
 * holds the rest). Real Mosquitto, a private real influxd that is killed
 * (SIGKILL) and restarted on the same port and data.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readingsTopic } from '../../contract/index.ts';
import { influxQuery, startInfluxd, type ServiceHandle } from '../harness/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually } from '../support/ws-client.ts';

// at 500 readings/s the queue reaches maxPending after 6 s: 25 s of outage hold it at its bound for most of the outage
const OUTAGE_S = Number(process.env.GW_TEST_OUTAGE_S ?? 25);
const MAX_PENDING = 3000;
let influx: ServiceHandle;
let ts: TestServer;
const db = 'outage';

beforeAll(async () => {
  influx = await startInfluxd();
  ts = await startTestServer({
    mqttUrl: inject('mqttUrl'),
    sites: ['outage-site'],
    influxUrl: influx.url,
    database: db,
    extra: { ingest: { batchSize: 1000, flushIntervalMs: 20, maxPending: MAX_PENDING } },
  });
});
afterAll(async () => {
  await ts?.close();
  await influx?.stop();
});

describe('InfluxDB outage under load', () => {
  it(`loses nothing across a ${OUTAGE_S} s outage and keeps its queue bounded`, async () => {
    const agent = `outage-${process.pid}`;
    const pub = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `${agent}-pub` });
    const t0 = Date.UTC(2026, 5, 1);
    const perMessage = 50;
    let sent = 0;
    let maxQueue = 0;
    let running = true;
    const watch = setInterval(() => (maxQueue = Math.max(maxQueue, ts.server.ingest.queueDepth)), 20);
    // 500 readings/s for the whole run
    const publisher = (async () => {
      let seq = 0;
      while (running) {
        const readings = Array.from({ length: perMessage }, (_, i) => ({ device: `d${i}`, ts: t0 + seq * 1000, seq: seq * perMessage + i, v: { ua: 220 + (seq % 10), ia: i }, q: 'good' }));
        seq++;
        await pub.publishAsync(readingsTopic('outage-site', agent), JSON.stringify({ agent, readings }), { qos: 1 });
        sent += perMessage;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await new Promise((r) => setTimeout(r, 3000));
    await influx.kill();
    const outageStart = Date.now();
    await eventually(async () => !(await (await ts.fetch('/api/health')).json()).store.writing, 20_000, 'store marked failing');
    await new Promise((r) => setTimeout(r, OUTAGE_S * 1000 - (Date.now() - outageStart)));
    const queuedDuringOutage = ts.server.ingest.queueDepth;
    // health tells how far behind the store is
    const health = await (await ts.fetch('/api/health')).json();
    expect(health.status).toBe('degraded');
    expect(health.ingest.storeLagMs).toBeGreaterThan((OUTAGE_S - 5) * 1000);
    await influx.restart();
    await new Promise((r) => setTimeout(r, 2000));
    running = false;
    await publisher;
    await pub.endAsync();
    await eventually(
      async () => {
        const res = await influxQuery(influx.url, db, 'SELECT count("ua") FROM reading');
        return Number(res[0]?.series?.[0]?.values?.[0]?.[1] ?? 0) === sent;
      },
      60_000,
      `all ${sent} readings in InfluxDB`,
    );
    clearInterval(watch);
    // one series per device: no duplicates, no gaps
    const perDevice = await influxQuery(influx.url, db, 'SELECT count("ua") FROM reading GROUP BY "device"');
    const counts = (perDevice[0]?.series ?? []).map((s) => Number(s.values[0]![1]));
    expect(counts).toHaveLength(perMessage);
    expect(new Set(counts).size).toBe(1);
    expect(counts[0]! * perMessage).toBe(sent);
    // bounded: the queue never grew past maxPending plus one message in hand
    expect(maxQueue).toBeLessThanOrEqual(MAX_PENDING + perMessage);
    expect(queuedDuringOutage).toBeGreaterThan(0);
    console.log(`outage ${OUTAGE_S} s: ${sent} readings sent, all stored; queue peaked at ${maxQueue} (limit ${MAX_PENDING})`);
  }, (OUTAGE_S + 120) * 1000);
});
