/**
 * The risk items' closed loop against the real server and the test SMS
 * gateway: a code turns yellow → an item assigned to the station's head → the
 * SMS with the item's link at the gateway → follow-up by the station's own
 * operator → rejection and verification by the center → closed. Station
 * scopes (another station's operator sees nothing, cannot answer; a scoped
 * operator cannot verify), overdue escalation to the leaders, and a restart
 * that keeps every item with its journal.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RiskCode, RiskItem, StationRiskDay } from '../../contract/risk.ts';
import { login, startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';
import { TestSmsGateway } from '../support/sms-gateway.ts';
import { until } from '../support/until.ts';

const SECRET = 'risk-items-gateway-secret-0123456789';
const TOPOLOGY = `
sites:
  - { id: east, name: 东区供电所 }
  - { id: west, name: 西区供电所 }
  - { id: north, name: 北区供电所 }
`;
const PEOPLE = [
  { id: 'head-east', name: '东区所长', phone: '13800000001', roles: ['station_head'], stations: ['east'] },
  { id: 'head-west', name: '西区所长', phone: '13800000002', roles: ['station_head'], stations: ['west'] },
  { id: 'duty', name: '值班长', phone: '13800000003', roles: ['on_call'] },
  { id: 'boss', name: '中心主任', phone: '13800000004', roles: ['leader'] },
];
const DAY = '2026-11-02';

function day(station: string, code: RiskCode, computedAt: number): StationRiskDay {
  return {
    station, day: DAY, computedAt, run: 'on-demand', window: { from: computedAt - 30 * 86_400_000, to: computedAt }, score: code === 'red' ? 42 : code === 'yellow' ? 20 : 5,
    coverage: 1, rawCode: code, code, driving: code === 'green' ? null : 'repair-calls-per-1000', dimensions: { demand: 40, handling: 0, speed: 0 }, indicators: [],
  };
}

let gateway: TestSmsGateway;
let ts: TestServer;
const cookies: Record<string, string> = {};

async function startServer(dataDir?: string): Promise<TestServer> {
  const s = await startTestServer({
    topologyYaml: TOPOLOGY,
    ...(dataDir ? { dataDir } : {}),
    extra: {
      notify: { gateway: { url: gateway.url, account: 'gw', secret: SECRET }, retryBaseMs: 100, retryMaxMs: 500 },
      // red items are due within ~2 s, yellow ones in 72 h: the overdue escalation happens inside the test
      risk: { dashboardUrl: 'https://gw.example/', items: { tickMs: 100, answerWithinHours: { yellow: 72, red: 0.0005 } } },
    },
  });
  gateway.receiptUrl = `${s.server.url}/api/notify/receipts`;
  await s.server.auth.putUser('east-op', TEST_PASSWORD, 'operator', ['east']);
  await s.server.auth.putUser('west-op', TEST_PASSWORD, 'operator', ['west']);
  for (const u of ['east-op', 'west-op']) cookies[u] = await login(s.server.url, u, TEST_PASSWORD);
  return s;
}

/** A request as a test role or a scoped user; the answer's status and JSON body. */
async function call(who: 'admin' | 'operator' | 'viewer' | 'east-op' | 'west-op', method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) };
  const res = who === 'east-op' || who === 'west-op'
    ? await fetch(ts.server.url + url, { ...init, headers: { ...(init.headers as Record<string, string>), cookie: cookies[who]! } })
    : await ts.fetch(url, { ...init, role: who });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  gateway = new TestSmsGateway({ secret: SECRET, delayMs: [1, 10], receiptDelayMs: [50, 200], failRate: 0 });
  await gateway.start();
  ts = await startServer();
  expect((await call('admin', 'PUT', '/api/contacts', { people: PEOPLE })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  const dir = ts?.dataDir;
  await ts?.close();
  await gateway?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('risk items end to end', () => {
  let item: RiskItem;

  it('a station turning yellow opens one item for its head, who gets the SMS with the link', async () => {
    const opened = await ts.server.riskItems.onComputed([day('east', 'yellow', Date.now()), day('west', 'green', Date.now())]);
    expect(opened).toHaveLength(1);
    item = opened[0]!;
    expect(item).toMatchObject({ station: 'east', openedCode: 'yellow', state: 'open', assignees: [{ id: 'head-east', name: '东区所长' }] });
    await until(() => (gateway.messages().some((m) => m.phone === '13800000001') ? [] : ['no SMS to the east head']), 20_000, 'opening SMS');
    const sms = gateway.messages().find((m) => m.phone === '13800000001')!;
    expect(sms.text).toContain('【服务风险】东区供电所服务风险码转为黄色');
    expect(sms.text).toContain('千户报修率');
    expect(sms.text).toContain(`https://gw.example/#/risk/items/${item.id}`);
    // the same day computed again opens nothing more
    expect(await ts.server.riskItems.onComputed([day('east', 'yellow', Date.now())])).toEqual([]);
    const got = await call('viewer', 'GET', `/api/risk/items/${item.id}`);
    expect(got.status).toBe(200);
    expect(got.body.events.map((e: { kind: string }) => e.kind)).toEqual(['opened', 'assigned', 'notified']);
    expect(got.body.notices).toEqual([expect.objectContaining({ to: '东区所长', person: 'head-east' })]);
  });

  it('station scopes: another station sees nothing and cannot answer; a viewer cannot answer', async () => {
    expect((await call('east-op', 'GET', '/api/risk/items')).body.items.map((i: RiskItem) => i.id)).toEqual([item.id]);
    expect((await call('west-op', 'GET', '/api/risk/items')).body).toEqual({ total: 0, items: [] });
    expect((await call('west-op', 'GET', `/api/risk/items?station=east`)).body.total).toBe(0);
    const hidden = await call('west-op', 'GET', `/api/risk/items/${item.id}`);
    expect(hidden).toEqual({ status: 404, body: { error: { code: 'GW_ERR_RISK_ITEM_UNKNOWN', message: `no risk item ${item.id}` } } });
    expect((await call('west-op', 'POST', `/api/risk/items/${item.id}/follow-up`, { text: 'not mine' })).status).toBe(404);
    expect((await call('viewer', 'POST', `/api/risk/items/${item.id}/follow-up`, { text: 'look' })).status).toBe(403);
    expect((await call('operator', 'GET', '/api/risk/items?state=closed')).body.total).toBe(0);
  });

  it('follow-up by the station, rejection and verification by the center, closed; refusals with clear codes', async () => {
    const base = `/api/risk/items/${item.id}`;
    expect((await call('east-op', 'POST', `${base}/follow-up`, { text: '  ' })).body.error.code).toBe('GW_ERR_HTTP_BAD_REQUEST');
    expect((await call('east-op', 'POST', `${base}/follow-up`, { text: 'x', extra: 1 })).status).toBe(400);
    expect((await call('operator', 'POST', `${base}/verify`, { accept: true })).body.error.code).toBe('GW_ERR_RISK_ITEM_STATE');
    const f = await call('east-op', 'POST', `${base}/follow-up`, { text: '已组织抢修并回访报修用户' });
    expect(f.status).toBe(200);
    expect(f.body.state).toBe('answered');
    expect(f.body.events.at(-1)).toMatchObject({ kind: 'follow-up', by: 'east-op', text: '已组织抢修并回访报修用户' });
    // the station does not verify its own answer
    expect((await call('east-op', 'POST', `${base}/verify`, { accept: true })).body.error.code).toBe('GW_ERR_AUTH_FORBIDDEN');
    expect((await call('operator', 'POST', `${base}/verify`, { accept: false })).status).toBe(400);
    const rej = await call('operator', 'POST', `${base}/verify`, { accept: false, comment: '回访记录不全' });
    expect(rej.body).toMatchObject({ state: 'open', escalated: false });
    expect((await call('east-op', 'POST', `${base}/follow-up`, { text: '已补全回访记录' })).body.state).toBe('answered');
    const ok = await call('admin', 'POST', `${base}/verify`, { accept: true, comment: '核实' });
    expect(ok.body).toMatchObject({ state: 'closed' });
    expect(ok.body.closedAt).toBeGreaterThan(0);
    expect(ok.body.events.slice(-2).map((e: { kind: string; by: string }) => [e.kind, e.by])).toEqual([['verified', 'admin'], ['closed', 'admin']]);
    expect((await call('east-op', 'POST', `${base}/follow-up`, { text: 'more' })).body.error.code).toBe('GW_ERR_RISK_ITEM_STATE');
    expect((await call('operator', 'POST', '/api/risk/items/nope/verify', { accept: true })).status).toBe(404);
  });

  it('an item of a station without responsible people goes to the on-duty; unanswered past its due time it escalates to the leader', async () => {
    const [north] = await ts.server.riskItems.onComputed([day('north', 'red', Date.now())]);
    expect(north!.assignees).toEqual([{ id: 'duty', name: '值班长' }]);
    expect(north!.events[1]!.text).toMatch(/no responsible person of north .*on-duty/);
    await until(async () => ((await call('operator', 'GET', `/api/risk/items/${north!.id}`)).body.escalated ? [] : ['not escalated']), 20_000, 'escalation');
    await until(() => (gateway.messages().some((m) => m.phone === '13800000004') ? [] : ['no SMS to the leader']), 20_000, 'escalation SMS');
    const sms = gateway.messages().find((m) => m.phone === '13800000004')!;
    expect(sms.text).toMatch(/^【风险督办】北区供电所的红色风险事项超过反馈期限.*仍未反馈，责任人：值班长。详情：https:\/\/gw\.example\/#\/risk\/items\//);
    const got = (await call('operator', 'GET', `/api/risk/items/${north!.id}`)).body as RiskItem;
    expect(got.state).toBe('open');
    expect(got.events.filter((e) => e.kind === 'escalated')).toHaveLength(1);
    await until(async () => ((await call('operator', 'GET', `/api/risk/items/${north!.id}`)).body.events.filter((e: { kind: string }) => e.kind === 'notified').length === 2 ? [] : ['escalation not notified']), 10_000, 'notified');
    // to the duty on opening, to the leader on escalation: once each
    expect(gateway.messages().filter((m) => m.phone === '13800000003' || m.phone === '13800000004').map((m) => m.phone).sort()).toEqual(['13800000003', '13800000004']);
  });

  it('a restart keeps every item with its journal', async () => {
    const before = (await call('operator', 'GET', '/api/risk/items')).body;
    expect(before.total).toBe(2);
    const dataDir = ts.dataDir;
    await ts.server.stop();
    ts = await startServer(dataDir);
    const after = (await call('operator', 'GET', '/api/risk/items')).body;
    const strip = (l: { items: any[] }) => l.items.map(({ notices: _n, ...it }) => it);
    expect(strip(after)).toEqual(strip(before));
    // the station's last code is kept too: east staying yellow opens nothing, no notice goes out again
    const sent = gateway.stats().sent;
    expect(await ts.server.riskItems.onComputed([day('east', 'yellow', Date.now())])).toEqual([]);
    await new Promise((r) => setTimeout(r, 500));
    expect(gateway.stats().sent).toBe(sent);
  });
});
