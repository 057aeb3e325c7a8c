/**
 * Line loss over REST on a real server (embedded broker, DuckDB): figures,
 * ranking, an area's history, the live estimate, recomputation, CSV, the
 * alarm a negative loss raises, and bad input refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';
import { DAY0, H, MIN, RATE, TOPOLOGY_YAML, dayReadings } from './support.ts';

let ts: TestServer;
const json = async (path: string, init?: Parameters<TestServer['fetch']>[1]) => {
  const r = await ts.fetch(path, init);
  return { status: r.status, body: (await r.json()) as Record<string, any> };
};
const post = (body: unknown, role?: 'viewer' | 'operator') =>
  json('/api/energy/line-loss/compute', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(role ? { role } : {}) });

async function until<T>(fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  ts = await startTestServer({ topologyYaml: TOPOLOGY_YAML, extra: { energy: { checkS: 1, catchUpIntervals: 0 } } });
  // a day of readings, and the last three minutes (the live estimate)
  await ts.server.store.write(dayReadings(-10, 24 * 60 + 10));
  const now = Math.floor(Date.now() / MIN) * MIN;
  await ts.server.store.write(
    dayReadings(0, 0).flatMap((r) => [3, 2, 1, 0].map((k) => ({ ...r, ts: now - k * MIN, v: { p: RATE[r.device]! } }))),
  );
}, 60_000);

afterAll(async () => {
  await ts?.close();
});

describe('line-loss REST', () => {
  it('computes on demand (operator) and answers the figures of a window, per site', async () => {
    const r = await post({ interval: '1h', from: new Date(DAY0).toISOString(), to: String(DAY0 + 3 * H) }, 'operator');
    expect(r.status).toBe(200);
    expect(r.body.figures).toHaveLength(9);
    const g = await json(`/api/energy/line-loss?site=s1&interval=1h&from=${DAY0}&to=${DAY0 + 3 * H}`);
    expect(g.status).toBe(200);
    expect(g.body.figures.filter((f: any) => f.transformer === 't1').map((f: any) => f.lossPct)).toEqual([4, 4, 4]);
  });

  it('raises the negative-loss alarm on the area of the meter under the wrong transformer', async () => {
    // the last closed hour, computed again now that its readings are in (the schedule may have computed it before)
    const hour = Math.floor(Date.now() / H) * H - H;
    await ts.server.store.write(dayReadings(-5, 65, hour));
    expect((await post({ interval: '1h', from: String(hour), to: String(hour + H) }, 'operator')).status).toBe(200);
    const alarm = await until(async () => {
      const { body } = await json('/api/alarms');
      return (body.alarms as any[]).find((a) => a.ruleId === 'line-loss-negative');
    });
    expect(alarm).toMatchObject({ source: 's1/t2', active: true, level: 'negative', site: 's1', transformer: 't2' });
    const others = (await json('/api/alarms')).body.alarms.filter((a: any) => a.ruleId.startsWith('line-loss') && a.source !== 's1/t2');
    expect(others).toEqual([]);
  });

  it('opens a topology-mismatch finding on the area of the negative loss, and resolves it once the hour computes normal', async () => {
    const hour = Math.floor(Date.now() / H) * H - H;
    const finding = await until(async () => {
      const { body } = await json('/api/findings?state=open');
      return (body.findings as any[]).find((f) => f.kind === 'negative_loss' && f.loss?.some((e: any) => e.start === hour));
    });
    expect(finding).toMatchObject({ meter: 's1/t2', area: { site: 's1', transformer: 't2' }, state: 'open', evidence: [] });
    expect(finding.loss.find((e: any) => e.start === hour)).toEqual({ interval: '1h', start: hour, end: hour + H, supplyKwh: 100, salesKwh: 105, lossPct: -5 });
    expect(finding.message).toMatch(/^area s1\/t2 sold more than it was supplied: loss -5\.00 % in the hour from .*\(supply 100 kWh, sales 105 kWh\)/);
    // only the area with negative loss
    expect((await json('/api/findings?state=all')).body.findings.filter((f: any) => f.kind === 'negative_loss' && f.meter !== 's1/t2')).toEqual([]);
    // the meter under the wrong transformer moved: t2's one line now sells 96 kWh of the 100 in that hour
    await ts.server.store.write(dayReadings(-5, 65, hour).filter((r) => r.device === 'L3').map((r) => ({ ...r, v: { ep_imp: 5000 + (96 * (r.ts - hour)) / H } })));
    expect((await post({ interval: '1h', from: String(hour), to: String(hour + H) }, 'operator')).status).toBe(200);
    const resolved = await until(async () => {
      const { body } = await json('/api/findings?state=resolved');
      return (body.findings as any[]).find((f) => f.id === finding.id);
    });
    expect(resolved).toMatchObject({ state: 'resolved', resolvedBy: 'system', comment: expect.stringMatching(/^loss back to 4\.00 %/) });
  });

  it('ranks the areas of a day, worst first, and gives one area\'s daily history', async () => {
    expect((await post({ interval: '1d', from: String(DAY0), to: String(DAY0 + 24 * H) }, 'operator')).status).toBe(200);
    const rank = await json('/api/energy/line-loss/rank?site=s1&day=2026-11-02');
    expect(rank.status).toBe(200);
    expect(rank.body.areas.map((a: any) => [a.rank, a.transformer, a.lossPct])).toEqual([[1, 't1', 4], [2, 't3', 2], [3, 't2', -5]]);
    const hist = await json(`/api/energy/line-loss/s1/t1?interval=1d&from=${DAY0 - 5 * 24 * H}&to=${DAY0 + 24 * H}`);
    expect(hist.body.figures).toMatchObject([{ start: DAY0, supplyKwh: 9600, salesKwh: 9216, lossPct: 4 }]);
    expect(hist.body.area).toMatchObject({ supplyMeter: 'T1', salesMeters: ['L1', 'L2'], salesBasis: 'lines' });
  });

  it('keeps a live estimate from the last minute\'s mean power', async () => {
    const t1 = await until(async () => ((await json('/api/energy/line-loss/live?site=s1')).body.estimates as any[]).find((e) => e.transformer === 't1' && e.complete));
    expect(t1).toMatchObject({ supplyKw: 400, salesKw: 384, lossPct: 4 });
  });

  it('exports the figures as CSV with Chinese headers', async () => {
    const r = await ts.fetch(`/api/energy/line-loss.csv?site=s1&interval=1h&from=${DAY0}&to=${DAY0 + 3 * H}&lang=zh`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (await r.text()).replace(/^\uFEFF/, '').trim().split('\r\n');
    expect(lines[0]).toContain('线损率 %');
    expect(lines).toHaveLength(1 + 9);
    expect(lines[1]).toBe('s1,r1,t1,1h,2026-11-02T00:00:00.000+08:00,2026-11-02T01:00:00.000+08:00,true,400,384,16,4,3,,,');
  });

  it.each([
    ['an unknown interval', '/api/energy/line-loss?interval=2h', 400, 'GW_ERR_HTTP_BAD_REQUEST'],
    ['from after to', `/api/energy/line-loss?from=${DAY0 + H}&to=${DAY0}`, 400, 'GW_ERR_HTTP_BAD_REQUEST'],
    ['a time that is none', '/api/energy/line-loss?from=yesterday', 400, 'GW_ERR_HTTP_BAD_REQUEST'],
    ['too many intervals', `/api/energy/line-loss?interval=15m&from=0&to=${DAY0}`, 400, 'GW_ERR_HTTP_BAD_REQUEST'],
    ['an unknown site', '/api/energy/line-loss/rank?site=nope', 404, 'GW_ERR_HTTP_NOT_FOUND'],
    ['an unknown area', '/api/energy/line-loss/s1/t9', 404, 'GW_ERR_HTTP_NOT_FOUND'],
    ['a day that is no date', '/api/energy/line-loss/rank?site=s1&day=2026-13-45', 400, 'GW_ERR_HTTP_BAD_REQUEST'],
  ])('refuses %s', async (_w, path, status, code) => {
    const r = await json(path);
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
  });

  it('lets only operators recompute', async () => {
    expect((await post({ interval: '1h', from: String(DAY0), to: String(DAY0 + H) }, 'viewer')).status).toBe(403);
    expect((await post({ interval: '1h', from: String(DAY0) }, 'operator')).status).toBe(400);
  });
});
