/**
 * GET /api/quality/voltage (JSON and CSV) and GET /api/capacity on a real
 * server over its own store: the figures of a known day, the station summary,
 * Chinese CSV headers, and what is refused — no period, both periods, a date
 * that does not exist, an unknown station, a station outside a scoped user's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredReading } from '../../server/index.ts';
import { TEST_PASSWORD, login, startTestServer, type TestServer } from '../support/server.ts';

const MIN = 60_000;
/** 2026-11-03 00:00 in China (UTC+8) */
const DAY0 = Date.UTC(2026, 10, 2, 16, 0);
const TOPOLOGY = `
sites:
  - id: qs1
    name: Q1
    rooms:
      - id: r1
        name: R1
        transformers:
          - { id: t1, name: 1#, ratedKva: 400, meter: qm-t1, lines: [{ id: l1, name: L1, meter: qm-l1 }] }
  - id: qs2
    name: Q2
    rooms: []
`;

let ts: TestServer;

beforeAll(async () => {
  ts = await startTestServer({ topologyYaml: TOPOLOGY });
  const rows: StoredReading[] = [];
  const r = (device: string, t: number, v: StoredReading['v']): StoredReading => ({ site: 'qs1', room: 'r1', transformer: 't1', line: device === 'qm-t1' ? '' : 'l1', device, ts: t, q: 'good', late: false, v });
  for (let m = 0; m < 1440; m++) {
    rows.push(r('qm-t1', DAY0 + m * MIN + 1000, { ua: m < 60 ? 250 : 221, ub: 220, uc: 219 }));
    rows.push(r('qm-l1', DAY0 + m * MIN + 1000, { ua: 230, ub: 229, uc: 231 }));
  }
  const now = Date.now();
  for (let k = 0; k < 8; k++) rows.push(r('qm-t1', now - 86_400_000 + k * 15 * MIN, { load_rate: 50 + k * 5 }));
  await ts.server.store.write(rows);
  await ts.server.auth.putUser('q-scoped', TEST_PASSWORD, 'viewer', ['qs2']);
}, 60_000);
afterAll(async () => {
  await ts?.close();
});

describe('quality REST', () => {
  it('gives the day of each monitoring point and the station summary', async () => {
    const res = await ts.fetch('/api/quality/voltage?site=qs1&day=2026-11-03', { role: 'viewer' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { tz: string; period: object; points: Array<Record<string, unknown>>; summary: Record<string, unknown> };
    expect(body.tz).toBe('+08:00');
    expect(body.period).toEqual({ kind: 'day', label: '2026-11-03', from: DAY0, to: DAY0 + 86_400_000 });
    expect(body.points.map((p) => [p.device, p.ratePct, p.aboveMin])).toEqual([
      ['qm-t1', 95.83, 60],
      ['qm-l1', 100, 0],
    ]);
    expect(body.summary).toMatchObject({ points: 2, monitoredMin: 2880, insideMin: 2820, ratePct: 97.92, lowestDevice: 'qm-t1' });
  });

  it('exports the day as CSV, headers in Chinese with lang=zh, the station on the last row', async () => {
    const res = await ts.fetch('/api/quality/voltage.csv?site=qs1&day=2026-11-03&lang=zh');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const lines = (await res.text()).replace(/^\uFEFF/, '').trim().split(/\r?\n/);
    expect(lines[0]).toContain('电压合格率 %');
    expect(lines[0]?.endsWith('停电时间(分)')).toBe(true);
    expect(lines[1]).toBe('qs1,2026-11-03,qm-t1,r1,t1,,三相380V,235.4,204.6,1440,1380,60,0,95.83,4.17,0,0');
    expect(lines.at(-1)).toBe('qs1,2026-11-03,全站,,,,,,,2880,2820,60,0,97.92,2.08,0,0');
  });

  it('gives the available capacity of each transformer from the last 30 days', async () => {
    const res = await ts.fetch('/api/capacity?site=qs1', { role: 'viewer' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { transformers: Array<Record<string, unknown>> };
    expect(body.transformers).toEqual([expect.objectContaining({ transformer: 't1', ratedKva: 400, intervals: 8, maxKva: 340, availableKva: 60, p95Kva: 340, maxLoadPct: 85 })]);
  });

  it('refuses what it cannot answer with a clear error', async () => {
    const err = async (url: string, role?: 'viewer') => {
      const res = await ts.fetch(url, role ? { role } : {});
      return [res.status, ((await res.json()) as { error: { code: string; message: string } }).error] as const;
    };
    expect(await err('/api/quality/voltage?site=qs1')).toEqual([400, { code: 'GW_ERR_HTTP_BAD_REQUEST', message: 'give day (YYYY-MM-DD) or month (YYYY-MM), one of them' }]);
    expect((await err('/api/quality/voltage?site=qs1&day=2026-11-03&month=2026-11'))[0]).toBe(400);
    expect(await err('/api/quality/voltage?site=qs1&day=2026-02-30')).toEqual([400, { code: 'GW_ERR_HTTP_BAD_REQUEST', message: 'day: not a date YYYY-MM-DD: 2026-02-30' }]);
    expect((await err('/api/quality/voltage?site=qs1&month=2026-13'))[0]).toBe(400);
    expect((await err('/api/quality/voltage?site=qs1&day=2026-11-03&tz=CST'))[0]).toBe(400);
    expect(await err('/api/quality/voltage?site=nope&day=2026-11-03')).toEqual([404, { code: 'GW_ERR_HTTP_NOT_FOUND', message: 'no station nope' }]);
    expect((await err('/api/capacity?site=qs1&days=0'))[0]).toBe(400);
    // a user of station qs2 does not see qs1
    const cookie = await login(ts.server.url, 'q-scoped', TEST_PASSWORD);
    const scoped = await fetch(`${ts.server.url}/api/capacity?site=qs1`, { headers: { cookie } });
    expect(scoped.status).toBe(404);
    const own = await fetch(`${ts.server.url}/api/capacity?site=qs2`, { headers: { cookie } });
    expect(own.status).toBe(200);
  });
});
