/**
 * Risk REST against a real server (embedded broker, DuckDB, the shipped
 * model): an operator's computation of a day, the ranking, a station's days
 * and the model; station scopes (a scoped user sees its stations' rows only,
 * another station is 404, it may not compute); bad days and unknown stations
 * answered 400 / 404; a station added by a topology reload is computed.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';
import { POOL_TOPOLOGY } from '../outages/topology.ts';
import { addDays, dayOf } from '../../server/risk/days.ts';

const SHIPPED = fileURLToPath(new URL('../../config/risk.yaml', import.meta.url));
let ts: TestServer;
let scoped = '';
let dir = '';
const yesterday = addDays(dayOf(Date.now(), '+08:00'), -1);

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-rest-'));
  await writeFile(path.join(dir, 'topology.yaml'), POOL_TOPOLOGY);
  ts = await startTestServer({ topologyYaml: POOL_TOPOLOGY, extra: { topologyFile: path.join(dir, 'topology.yaml'), risk: { file: SHIPPED } } });
  await ts.server.auth.putUser('s2op', TEST_PASSWORD, 'operator', ['s2']);
  scoped = await login(ts.server.url, 's2op', TEST_PASSWORD);
}, 60_000);
afterAll(async () => {
  await ts?.close();
  await rm(dir, { recursive: true, force: true });
});

async function json(path: string, method = 'GET', body?: unknown, role: 'viewer' | 'operator' | 'admin' = 'operator') {
  const res = await ts.fetch(path, { method, role, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as any };
}

async function asScoped(path: string, method = 'GET', body?: unknown) {
  const res = await fetch(ts.server.url + path, { method, headers: { cookie: scoped, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as any };
}

describe('risk REST', () => {
  it('an operator computes yesterday (the default): every station gets a day with all the model\'s indicators', async () => {
    const r = await json('/api/risk/compute', 'POST', {});
    expect(r.status).toBe(200);
    expect(r.body.day).toBe(yesterday);
    expect(r.body.days.map((d: { station: string }) => d.station).sort()).toEqual(['s1', 's2']);
    const s1 = r.body.days.find((d: { station: string }) => d.station === 's1');
    expect(s1).toMatchObject({ day: yesterday, run: 'on-demand' });
    expect(s1.indicators.find((i: { id: string }) => i.id === 'complaints')).toMatchObject({ status: 'not-available', value: null });
    // quiet day: no calls, no outages, no alarms
    expect(s1.indicators.find((i: { id: string }) => i.id === 'repair-calls-per-1000')).toMatchObject({ status: 'ok', value: 0 });
    expect(s1.indicators.find((i: { id: string }) => i.id === 'fault-outages')).toMatchObject({ status: 'ok', value: 0 });
    expect(s1.window.to - s1.window.from).toBe(30 * 86_400_000);
  });

  it('ranking and a station\'s days read what was computed; the model lists indicators with availability', async () => {
    const rk = await json(`/api/risk/ranking?day=${yesterday}`, 'GET', undefined, 'viewer');
    expect(rk.status).toBe(200);
    expect(rk.body.rows.map((r: { station: string }) => r.station).sort()).toEqual(['s1', 's2']);
    expect(rk.body.rows[0]).toMatchObject({ day: yesterday, highRiskDaysThisMonth: expect.any(Number), flagged: false, openItems: 0 });
    expect(rk.body.rows[0].trend).toHaveLength(30);
    const st = await json(`/api/risk/stations/s1?from=${addDays(yesterday, -3)}&to=${yesterday}`, 'GET', undefined, 'viewer');
    expect(st.status).toBe(200);
    expect(st.body.days).toHaveLength(1);
    const m = await json('/api/risk/model', 'GET', undefined, 'viewer');
    expect(m.body.thresholds).toEqual({ yellow: 14, red: 30 });
    expect(m.body.indicators.find((i: { id: string }) => i.id === 'heavy-load-hours')).toMatchObject({ available: expect.any(Boolean) });
  });

  it('bad days 400, unknown station 404, a viewer may not compute 403', async () => {
    expect((await json('/api/risk/ranking?day=2026-02-30', 'GET', undefined, 'viewer')).status).toBe(400);
    expect((await json('/api/risk/stations/s1?from=yesterday', 'GET', undefined, 'viewer')).body.error.code).toBe('GW_ERR_HTTP_BAD_REQUEST');
    expect((await json('/api/risk/stations/s1?from=2026-03-02&to=2026-03-01', 'GET', undefined, 'viewer')).status).toBe(400);
    expect((await json('/api/risk/stations/nope', 'GET', undefined, 'viewer')).status).toBe(404);
    expect((await json('/api/risk/compute', 'POST', { day: '2999-01-01' })).status).toBe(400);
    expect((await json('/api/risk/compute', 'POST', { day: 'x', extra: 1 })).status).toBe(400);
    expect((await json('/api/risk/compute', 'POST', {}, 'viewer')).status).toBe(403);
  });

  it('a station-scoped user sees its station only, another is 404, and may not compute', async () => {
    const rk = await asScoped(`/api/risk/ranking?day=${yesterday}`);
    expect(rk.body.rows.map((r: { station: string }) => r.station)).toEqual(['s2']);
    expect((await asScoped('/api/risk/stations/s2')).status).toBe(200);
    expect((await asScoped('/api/risk/stations/s1')).status).toBe(404);
    expect((await asScoped('/api/risk/compute', 'POST', {})).status).toBe(403);
  });

  it('a station added by a topology reload gets its day at the next computation', async () => {
    const s3 = POOL_TOPOLOGY.replace('customers:', `  - id: s3
    name: 北区
    rooms:
      - id: r1
        name: 北配电室
        transformers:
          - { id: T7, name: 7号变, ratedKva: 400, meter: mT7 }
customers:`);
    await writeFile(path.join(dir, 'topology.yaml'), s3);
    const reload = await json('/api/topology/reload', 'POST', undefined, 'admin');
    expect(reload.status).toBe(200);
    const r = await json('/api/risk/compute', 'POST', {});
    expect(r.body.days.map((d: { station: string }) => d.station).sort()).toEqual(['s1', 's2', 's3']);
    expect((await json('/api/risk/stations/s3', 'GET', undefined, 'viewer')).body).toMatchObject({ name: '北区' });
  });
});
