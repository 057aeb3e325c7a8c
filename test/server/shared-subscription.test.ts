/**
 * Two server instances in one shared-subscription group on a real Mosquitto
 * split an agent's messages between them: every message is ingested exactly
 * once across the pair.
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readingsTopic } from '../../contract/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually } from '../support/ws-client.ts';

const SITE = 'share-site';
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  const start = () => startTestServer({ mqttUrl: inject('mqttUrl'), sites: [SITE], sharedGroup: `g${process.pid}` });
  [a, b] = await Promise.all([start(), start()]);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

describe('shared subscription', () => {
  it('splits messages between two servers, each message ingested once', async () => {
    const pub = await mqtt.connectAsync(inject('mqttUrl'));
    const agent = `share-${process.pid}`;
    const n = 200;
    for (let i = 0; i < n; i++) {
      const readings = [{ device: `d${i}`, ts: Date.UTC(2026, 0, 1) + i, seq: i, v: { ua: 230 }, q: 'good' }];
      await pub.publishAsync(readingsTopic(SITE, agent), JSON.stringify({ agent, readings }), { qos: 1 });
    }
    await pub.endAsync();
    const inOf = async (s: TestServer) => Number((await (await s.fetch('/metrics')).text()).match(/^gridwatch_readings_in_total (\d+)/m)![1]);
    await eventually(async () => (await inOf(a)) + (await inOf(b)) === n, 10_000, 'all readings ingested');
    const [ia, ib] = [await inOf(a), await inOf(b)];
    expect(ia).toBeGreaterThan(0);
    expect(ib).toBeGreaterThan(0);
    expect(ia + ib).toBe(n);
  });
});
