/**
 * History over the REST API: by device, line or transformer; ISO times with
 * zone offsets; day buckets at local midnight; automatic resolution for long
 * windows (a month of a line meter's readings — 1 Hz in the first hour,
 * every 10 s after it — comes back as about 2,000 points).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredReading } from '../../server/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const TOPOLOGY = `
sites:
  - id: h-site
    name: H
    rooms:
      - id: h-room
        name: R
        transformers:
          - id: h-t1
            name: T1
            ratedKva: 630
            meter: h-mt
            lines:
              - { id: h-l1, name: L1, ratedCurrentA: 250, meter: h-m1 }
`;
const H = 3_600_000;
const D = 24 * H;
const T0 = Date.UTC(2026, 9, 1); // a month of readings from here: 1 Hz in the first hour, then every 10 s
let ts: TestServer;

const r = (device: string, t: number, v: StoredReading['v']): StoredReading => ({ site: 'h-site', room: 'h-room', transformer: 'h-t1', line: device === 'h-m1' ? 'h-l1' : '', device, ts: t, q: 'good', late: false, v });

beforeAll(async () => {
  ts = await startTestServer({ topologyYaml: TOPOLOGY });
  // 30 days of one line meter, written in batches as the ingest would (the first hour at 1 Hz holds the maximum, 135.99 A)
  const seconds: number[] = [];
  for (let k = 0; k < 30 * 86_400; k += k < 3600 ? 1 : 10) seconds.push(k);
  for (let i = 0; i < seconds.length; i += 50_000) await ts.server.store.write(seconds.slice(i, i + 50_000).map((k) => r('h-m1', T0 + k * 1000, { ia: 100 + (k % 3600) / 100 })));
  await ts.server.store.write([r('h-mt', Date.UTC(2026, 10, 1, 15), { ep_imp: 10 }), r('h-mt', Date.UTC(2026, 10, 1, 17), { ep_imp: 20 })]);
}, 120_000);
afterAll(async () => ts?.close());

describe('GET /api/history', () => {
  it('resolves a line to its meter and buckets a month to about 2,000 points', async () => {
    const t = performance.now();
    const res = await ts.fetch(`/api/history?line=h-l1&quantity=ia&from=${T0}&to=${T0 + 30 * D}&aggregate=max`);
    const ms = performance.now() - t;
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.step).toBeGreaterThan(1000);
    expect(body.series).toHaveLength(1);
    expect(body.series[0].device).toBe('h-m1');
    expect(body.series[0].ts.length).toBeGreaterThan(1000);
    expect(body.series[0].ts.length).toBeLessThanOrEqual(2001);
    expect(Math.max(...body.series[0].values)).toBeCloseTo(135.99, 2);
    console.log(`a month (${(3600 + (30 * 86_400 - 3600) / 10).toLocaleString('en')} points) → ${body.series[0].ts.length} buckets of ${body.step / 1000} s in ${ms.toFixed(0)} ms (DuckDB)`);
  });

  it('gives raw points for a short window', async () => {
    const res = await ts.fetch(`/api/history?device=h-m1&quantity=ia&from=${T0}&to=${T0 + 10_000}`);
    const body = await res.json();
    expect(body.aggregate).toBe('raw');
    expect(body.series[0].ts).toEqual(Array.from({ length: 10 }, (_, i) => T0 + i * 1000));
  });

  it('takes ISO times with zone offsets and aligns day buckets to local midnight', async () => {
    const q = (tz: string) => ts.fetch(`/api/history?transformer=h-t1&quantity=ep_imp&from=2026-11-01T00:00:00%2B08:00&to=2026-11-04T00:00:00%2B08:00&step=${D}&aggregate=max&tz=${encodeURIComponent(tz)}`);
    const cst = await (await q('+08:00')).json();
    expect(cst.from).toBe(Date.UTC(2026, 9, 31, 16));
    expect(cst.series[0].values).toEqual([10, 20]);
    expect(cst.series[0].ts).toEqual([Date.UTC(2026, 9, 31, 16), Date.UTC(2026, 10, 1, 16)]);
    const utc = await (await q('Z')).json();
    expect(utc.series[0].values).toEqual([20]);
  });

  it('rejects unknown lines, bad zones and missing sources', async () => {
    expect((await ts.fetch(`/api/history?line=nope&quantity=ia&from=${T0}`)).status).toBe(404);
    expect((await ts.fetch(`/api/history?device=h-m1&quantity=ia&from=${T0}&tz=Mars/Olympus`)).status).toBe(400);
    expect((await ts.fetch(`/api/history?quantity=ia&from=${T0}`)).status).toBe(400);
  });
});
