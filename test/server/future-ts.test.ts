/**
 * Readings stamped in the future or long ago, through the real broker into
 * a real server: too far either way they are rejected and counted; a
 * reading a little ahead is stored but does not hold the live value, and a
 * restart does not bring a future reading back as the latest (DuckDB and
 * InfluxDB).
 */
import { rm } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readingsTopic } from '../../contract/index.ts';
import type { StoredReading } from '../../server/index.ts';
import { eventually } from '../support/ws-client.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const SITE = `fts-${process.pid}`;
const AGENT = `fts-agent-${process.pid}`;
const TOPOLOGY = `
sites:
  - id: ${SITE}
    name: Future
    rooms:
      - id: r1
        name: R1
        agent: ${AGENT}
        sensors: [fts-1, fts-2, fts-3]
`;
const DAY = 86_400_000;
let pub: MqttClient;
let seq = 0;

const send = (device: string, ts: number, ua: number) =>
  pub.publishAsync(readingsTopic(SITE, AGENT), JSON.stringify({ agent: AGENT, readings: [{ device, ts, seq: seq++, v: { ua }, q: 'good' }] }), { qos: 1 });

async function rejected(ts: TestServer, reason: string): Promise<number> {
  const text = await (await ts.fetch('/metrics')).text();
  return Number(text.match(new RegExp(`gridwatch_readings_rejected_total\\{reason="${reason}",agent="${AGENT}"\\} (\\d+)`))?.[1] ?? 0);
}

async function liveTs(ts: TestServer, device: string): Promise<number | undefined> {
  const body = (await (await ts.fetch(`/api/latest?device=${device}`)).json()) as { readings: { device: string; ts: number }[] };
  return body.readings.find((r) => r.device === device)?.ts;
}

beforeAll(async () => {
  pub = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `fts-pub-${process.pid}` });
});
afterAll(async () => {
  await pub?.endAsync();
});

describe('reading time bounds', () => {
  let ts: TestServer;
  beforeAll(async () => {
    ts = await startTestServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY });
  });
  afterAll(async () => ts?.close());

  it('rejects a reading a day ahead as future_ts and one 500 days old as too_old, stores neither', async () => {
    const now = Date.now();
    await send('fts-1', now + DAY, 231);
    await send('fts-1', now - 500 * DAY, 232);
    await eventually(async () => (await rejected(ts, 'future_ts')) === 1 && (await rejected(ts, 'too_old')) === 1, 10_000, 'both counted');
    await send('fts-1', now, 230);
    await eventually(async () => (await ts.server.store.latest(['fts-1']))[0]?.ts === now, 10_000, 'the real one stored');
    const all = await ts.server.store.history({ devices: ['fts-1'], quantities: ['ua'], from: now - 600 * DAY, to: now + 2 * DAY });
    expect(all[0]?.ts).toEqual([now]);
  });

  it('a reading an hour ahead is stored, but the live value follows the real readings after it', async () => {
    const ahead = Date.now() + 3_600_000;
    await send('fts-2', ahead, 240);
    await eventually(async () => (await ts.server.store.latest(['fts-2']))[0]?.ts === ahead, 10_000, 'the reading ahead stored');
    // the real readings: the first may still lose to it (it counts as at most 2 s ahead of its arrival), later ones take over
    let last = 0;
    await eventually(
      async () => {
        last = Date.now();
        await send('fts-2', last, 230);
        return (await liveTs(ts, 'fts-2')) === last;
      },
      15_000,
      'the live value follows the real readings',
    );
    expect(last).toBeLessThan(ahead);
  });
});

describe('a restart does not bring a future reading back as the latest', () => {
  const stores: Array<[string, () => Record<string, string>]> = [
    ['DuckDB', () => ({})],
    ['InfluxDB', () => ({ influxUrl: inject('influxUrl'), database: `gw_fts_${process.pid}_${Date.now()}` })],
  ];
  for (const [name, extra] of stores) {
    it(name, async () => {
      const opts = { mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY, ...extra() };
      const first = await startTestServer(opts);
      const now = Date.now();
      const r = (t: number, ua: number): StoredReading => ({ site: SITE, room: 'r1', transformer: '', line: '', device: 'fts-3', ts: t, q: 'good', late: false, v: { ua } });
      // as a server before the bound stored them: a real reading and one a day ahead
      await first.server.store.write([r(now - 1000, 230), r(now + DAY, 999)]);
      expect((await first.server.store.latest(['fts-3']))[0]?.ts).toBe(now + DAY);
      expect((await first.server.store.latest(['fts-3'], now + 2000))[0]?.ts).toBe(now - 1000);
      await first.close({ keepData: true });
      const second = await startTestServer({ ...opts, dataDir: first.dataDir });
      try {
        expect(await liveTs(second, 'fts-3')).toBe(now - 1000);
      } finally {
        await second.close();
        await rm(first.dataDir, { recursive: true, force: true });
      }
    }, 60_000);
  }
});
