/**
 * Outage pool REST against a real server (embedded broker, DuckDB): plans
 * created, refused (unknown scope, overlap, bad times), confirmed against the
 * list shown, cancelled; CSV import all-or-nothing with line numbers (UTF-8
 * with BOM, GBK, quotes); repair calls; findings; roles; the pool rebuilt
 * from its journal after a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';
import { POOL_TOPOLOGY } from './topology.ts';

let ts: TestServer;
const DAY = 86_400_000;

beforeAll(async () => {
  ts = await startTestServer({ topologyYaml: POOL_TOPOLOGY });
}, 60_000);
afterAll(async () => ts?.close());

async function json(path: string, method = 'GET', body?: unknown, role: 'viewer' | 'operator' | 'admin' = 'operator') {
  const res = await ts.fetch(path, { method, role, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as any };
}

describe('plans', () => {
  const start = Date.now() + 10 * DAY;
  let id = '';

  it('creates a draft with the affected customers computed (important first) and no late mark 10 days ahead', async () => {
    const r = await json('/api/plans', 'POST', { scope: [{ kind: 'transformer', site: 's1', transformer: 'T1' }], start, end: start + 4 * 3_600_000, reason: '检修', workOrder: 'WO-1', crew: '一班' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ state: 'draft', customers: 2, late: false, sites: ['s1'], workOrder: 'WO-1' });
    id = r.body.id;
    const d = await json(`/api/plans/${id}`, 'GET', undefined, 'viewer');
    expect(d.body.affected.map((c: { id: string }) => c.id)).toEqual(['C2', 'C1']);
    // each affected customer carries its own contacts (the dashboard's topology has no customers)
    for (const c of d.body.affected) expect(Array.isArray(c.contacts)).toBe(true);
    expect(d.body.timeline[0]).toMatchObject({ by: 'operator' });
  });

  it('refuses an unknown scope, an end before the start and an empty reason, all at once', async () => {
    const r = await json('/api/plans', 'POST', { scope: [{ kind: 'transformer', site: 's1', transformer: 'T9' }, { kind: 'feeder', feeder: 'F9' }], start, end: start - 1, reason: ' ' });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('GW_ERR_PLAN_INVALID');
    expect(r.body.error.issues.map((i: { field: string }) => i.field)).toEqual(['scope[0]', 'scope[1]', 'end', 'reason']);
  });

  it('refuses a plan overlapping an open one on the same scope (the feeder holds T1), and a viewer', async () => {
    const r = await json('/api/plans', 'POST', { scope: [{ kind: 'feeder', feeder: 'F1' }], start: start + 3_600_000, end: start + 2 * 3_600_000, reason: 'x' });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('GW_ERR_PLAN_OVERLAP');
    expect(r.body.error.message).toContain(id);
    expect((await json('/api/plans', 'POST', { scope: [{ kind: 'transformer', site: 's1', transformer: 'T3' }], start, end: start + 1, reason: 'x' }, 'viewer')).status).toBe(403);
  });

  it('marks a plan less than 7 days ahead late, with a warning', async () => {
    const s = Date.now() + 2 * DAY;
    const r = await json('/api/plans', 'POST', { scope: [{ kind: 'line', site: 's1', line: 'L3' }], start: new Date(s).toISOString(), end: new Date(s + 3_600_000).toISOString(), reason: '抢修' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ late: true, warnings: ['late_notice'], customers: 1 });
  });

  it('confirm: a stale count is refused; the right one confirms; edit is then refused; cancel ends it', async () => {
    const stale = await json(`/api/plans/${id}/confirm`, 'POST', { customers: 5 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('GW_ERR_PLAN_STALE');
    const ok = await json(`/api/plans/${id}/confirm`, 'POST', { customers: 2 });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ state: expect.stringMatching(/^(confirmed|notified)$/), confirmedBy: 'operator', confirmedCustomers: 2 });
    const edit = await json(`/api/plans/${id}`, 'PATCH', { scope: [{ kind: 'transformer', site: 's1', transformer: 'T1' }], start, end: start + 1000, reason: 'y' });
    expect(edit.status).toBe(409);
    expect(edit.body.error.code).toBe('GW_ERR_PLAN_STATE');
    const c = await json(`/api/plans/${id}/cancel`, 'POST', { reason: '天气' });
    expect(c.body).toMatchObject({ state: 'cancelled', cancelledBy: 'operator', cancelReason: '天气' });
    expect((await json(`/api/plans/${id}/cancel`, 'POST', {})).status).toBe(409);
    expect((await json('/api/plans/P999', 'GET')).status).toBe(404);
  });
});

describe('customers reloaded', () => {
  it("a confirmed plan's list is recomputed and shows the difference; nothing goes out until an operator confirms again", async () => {
    const start = Date.now() + 40 * DAY;
    const p = await json('/api/plans', 'POST', { scope: [{ kind: 'transformer', site: 's1', transformer: 'T3' }], start, end: start + 3_600_000, reason: '检修' });
    await json(`/api/plans/${p.body.id}/confirm`, 'POST', { customers: 1 });
    const csv = '户号,户名,供电所,台区,线路,联系人,电话\r\nC50,新户,s1,T3,L3,新户,13800000050\r\n';
    const imp = await ts.fetch('/api/customers/import', { method: 'POST', role: 'admin', headers: { 'content-type': 'text/csv' }, body: csv });
    expect(imp.status).toBeLessThan(300);
    const d = await json(`/api/plans/${p.body.id}`, 'GET', undefined, 'viewer');
    expect(d.body).toMatchObject({ customers: 2, confirmedCustomers: 1, pendingChange: { added: ['C50'], removed: [] } });
    expect(d.body.timeline.map((e: { what: string }) => e.what)).toContain('affected list changed by a reload: +1 −0, confirm again');
    const again = await json(`/api/plans/${p.body.id}/confirm`, 'POST', { customers: 2 });
    expect(again.body).toMatchObject({ pendingChange: null, confirmedCustomers: 2 });
    await json(`/api/plans/${p.body.id}/cancel`, 'POST', {});
  });
});

describe('plan import (CSV)', () => {
  const day = (n: number) => new Date(Date.now() + n * DAY + 8 * 3_600_000).toISOString().slice(0, 10);

  it('imports nothing when any row is bad, and names every bad row with its line', async () => {
    const csv = `\uFEFFscope,start,end,reason,workOrder,crew\r\ntransformer:s1/T2,${day(20)} 08:00,${day(20)} 12:00,检修,WO-2,二班\r\ntransformer:s1/T9,${day(21)} 08:00,${day(21)} 12:00,检修,,\r\n"line:s1/L2",${day(22)} 08:00,yesterday,"换表, 第二批",,\r\nfeeder:F1,${day(20)} 09:00,${day(20)} 10:00,x,,\r\n`;
    const res = await ts.fetch('/api/plans/import', { method: 'POST', role: 'operator', headers: { 'content-type': 'text/csv' }, body: csv });
    expect(res.status).toBe(400);
    const b = (await res.json()) as any;
    expect(b.error.issues.map((i: { line: number }) => i.line)).toEqual([3, 4, 5]);
    expect(b.error.issues[0].reason).toContain('unknown transformer s1/T9');
    expect(b.error.issues[1].reason).toContain('end "yesterday"');
    expect(b.error.issues[2].reason).toContain('overlaps plan');
    const plans = await json('/api/plans?view=all');
    expect(plans.body.plans.some((p: { workOrder: string }) => p.workOrder === 'WO-2')).toBe(false);
  });

  it('imports a GBK file with Chinese headers and a quoted comma', async () => {
    const text = `停电范围,开始时间,结束时间,停电原因,工单号,施工班组\r\ntransformer:s1/T2,${day(30)} 08:00,${day(30)} 12:00,"线路检修,更换刀闸",WO-3,二班\r\n`;
    const body = encodeGbk(text);
    const res = await ts.fetch('/api/plans/import', { method: 'POST', role: 'operator', headers: { 'content-type': 'text/csv' }, body });
    expect(res.status).toBe(201);
    const b = (await res.json()) as any;
    expect(b.imported).toBe(1);
    expect(b.plans[0]).toMatchObject({ reason: '线路检修,更换刀闸', workOrder: 'WO-3', crew: '二班', customers: 1 });
    // 08:00 at +08:00
    expect(new Date(b.plans[0].start).toISOString().slice(11, 16)).toBe('00:00');
  });
});

describe('plan lists and the audit log', () => {
  it('upcoming, history and all; plan changes by users are in the audit log', async () => {
    const up = (await json('/api/plans?view=upcoming', 'GET', undefined, 'viewer')).body.plans;
    const hist = (await json('/api/plans?view=history', 'GET', undefined, 'viewer')).body.plans;
    const all = (await json('/api/plans', 'GET', undefined, 'viewer')).body.plans;
    expect(up.length + hist.length).toBe(all.length);
    expect(up.every((p: { state: string }) => ['draft', 'confirmed', 'notified'].includes(p.state))).toBe(true);
    expect(hist.some((p: { state: string }) => p.state === 'cancelled')).toBe(true);
    expect((await json('/api/plans?view=soon', 'GET', undefined, 'viewer')).status).toBe(400);
    const audit = await json('/api/audit?kind=outage_plan_changed', 'GET', undefined, 'admin');
    expect(audit.body.events.map((e: { actor: string; detail: string }) => `${e.actor} ${e.detail.split(' ')[0]}`)).toEqual(expect.arrayContaining(['operator created', 'operator confirmed', 'operator cancelled']));
  });

  it('an import of more than 5,000 rows, or not sent as CSV, is refused whole', async () => {
    const row = (i: number) => `transformer:s1/T3,2030-01-${String((i % 28) + 1).padStart(2, '0')} 08:00,2030-01-${String((i % 28) + 1).padStart(2, '0')} 09:00,x`;
    const big = ['scope,start,end,reason', ...Array.from({ length: 100_000 }, (_, i) => row(i))].join('\n');
    const res = await ts.fetch('/api/plans/import', { method: 'POST', role: 'operator', headers: { 'content-type': 'text/csv' }, body: big });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.issues).toEqual([{ line: 1, reason: 'more than 5000 rows' }]);
    expect((await json('/api/plans/import', 'POST', { csv: 'x' })).status).toBe(400);
    const empty = await ts.fetch('/api/plans/import', { method: 'POST', role: 'operator', headers: { 'content-type': 'text/csv' }, body: '' });
    expect(empty.status).toBe(400);
  });
});

describe('a user scoped to one station', () => {
  it('plans, files repair calls and sees plans only in its station', async () => {
    await ts.server.auth.putUser('west', TEST_PASSWORD, 'operator', ['s2']);
    const cookie = await login(ts.server.url, 'west', TEST_PASSWORD);
    const as = async (path: string, method = 'GET', body?: unknown, type = 'application/json') => {
      const res = await fetch(ts.server.url + path, { method, headers: { cookie, ...(body !== undefined ? { 'content-type': type } : {}) }, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
      return { status: res.status, body: (await res.json()) as any };
    };
    const start = Date.now() + 50 * DAY;
    const theirs = await as('/api/plans', 'POST', { scope: [{ kind: 'transformer', site: 's1', transformer: 'T3' }], start, end: start + 3_600_000, reason: 'x' });
    expect(theirs.status).toBe(403);
    expect((await as('/api/plans', 'POST', { scope: [{ kind: 'feeder', feeder: 'F1' }], start, end: start + 3_600_000, reason: 'x' })).status).toBe(403);
    const mine = await as('/api/plans', 'POST', { scope: [{ kind: 'transformer', site: 's2', transformer: 'T9' }], start, end: start + 3_600_000, reason: 'x' });
    expect(mine.status).toBe(201);
    expect((await as('/api/plans?view=all')).body.plans.map((p: { id: string }) => p.id)).toEqual([mine.body.id]);
    expect((await as('/api/tickets', 'POST', { customer: 'C1', text: 'x' })).body.error.code).toBe('GW_ERR_TICKET_INVALID');
    expect((await as('/api/tickets', 'POST', { customer: 'C9', text: 'x' })).status).toBe(201);
    expect((await as('/api/plans/import', 'POST', 'scope,start,end,reason\n', 'text/csv')).status).toBe(403);
    expect((await as(`/api/plans/${mine.body.id}/cancel`, 'POST', {})).body.state).toBe('cancelled');
    // the topology a dashboard loads has no customers: not this station's, not the others' (with their phones)
    const topo = (await as('/api/topology')).body;
    expect(topo.customers).toBeUndefined();
    expect(topo.sites.map((s: { id: string }) => s.id)).toEqual(['s2']);
  });
});

describe('repair calls and findings', () => {
  it('a call from a customer with no live data is unknown; calls are counted per customer', async () => {
    const a = await json('/api/tickets', 'POST', { customer: 'C4', text: '没电了' });
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ verdict: 'unknown', repeatCount: 1, site: 's1', meter: 'mL3' });
    const b = await json('/api/tickets', 'POST', { customer: 'C4', text: '还是没电' });
    expect(b.body.repeatCount).toBe(2);
    expect((await json('/api/tickets', 'POST', { customer: 'C99', text: 'x' })).body.error.code).toBe('GW_ERR_TICKET_INVALID');
    expect((await json('/api/tickets', 'POST', { text: 'x' })).status).toBe(400);
    const list = await json('/api/tickets?site=s1', 'GET', undefined, 'viewer');
    expect(list.body.tickets).toHaveLength(2);
  });

  it('findings list is empty, an unknown finding is 404', async () => {
    expect((await json('/api/findings', 'GET', undefined, 'viewer')).body).toEqual({ findings: [] });
    expect((await json('/api/findings/F9/resolve', 'POST', {})).status).toBe(404);
    expect((await json('/api/customers/frequent-outages', 'GET', undefined, 'viewer')).body).toEqual({ days: 60, min: 3, customers: [] });
  });
});

describe('journal', () => {
  it('plans and tickets survive a restart', async () => {
    const before = await json('/api/plans?view=all');
    const tickets = (await json('/api/tickets')).body.tickets as { id: string }[];
    await ts.server.stop();
    await ts.server.start();
    const after = await json('/api/plans?view=all');
    expect(after.body.plans.map((p: { id: string; state: string }) => `${p.id}:${p.state}`)).toEqual(before.body.plans.map((p: { id: string; state: string }) => `${p.id}:${p.state}`));
    expect((await json('/api/tickets')).body.tickets).toEqual(tickets);
    // ids continue after the journal's
    const r = await json('/api/tickets', 'POST', { customer: 'C1', text: 'x' });
    expect(r.body.id).toBe(`T${tickets.length + 1}`);
  }, 60_000);
});

/** GBK bytes of a text (TextEncoder knows only UTF-8), from the two-byte table of Node's GB18030 decoder. */
function encodeGbk(s: string): Blob {
  const table = new Map<string, number[]>();
  const dec = new TextDecoder('gb18030');
  for (let hi = 0x81; hi <= 0xfe; hi++)
    for (let lo = 0x40; lo <= 0xfe; lo++) {
      if (lo === 0x7f) continue;
      const ch = dec.decode(new Uint8Array([hi, lo]));
      if (ch.length === 1 && !table.has(ch)) table.set(ch, [hi, lo]);
    }
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else {
      const b = table.get(ch);
      if (!b) throw new Error(`no GBK code for ${ch}`);
      out.push(...b);
    }
  }
  return new Blob([new Uint8Array(out)]);
}
