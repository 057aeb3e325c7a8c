/**
 * Risk items from the risk runtime in the running server: a repair call at
 * one station, the operator's computation of the day (a one-indicator model
 * that turns it red) → a risk item for the station's head with its SMS at
 * the test gateway, and the ranking counting it in `openItems`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dayOf } from '../../server/risk/days.ts';
import { POOL_TOPOLOGY } from '../outages/topology.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { TestSmsGateway } from '../support/sms-gateway.ts';
import { until } from '../support/until.ts';

const SECRET = 'risk-compute-gateway-secret-0123456789';
// one call among s1's four customers is 250 per 1,000: red
const MODEL = `
version: 1
thresholds: { yellow: 14, red: 30 }
indicators:
  - { id: repair-calls-per-1000, weight: 1, good: 0, bad: 100 }
`;
const PEOPLE = [
  { id: 'head1', name: '东区所长', phone: '13900000101', roles: ['station_head'], stations: ['s1'] },
  { id: 'head2', name: '西区所长', phone: '13900000102', roles: ['station_head'], stations: ['s2'] },
];

let dir: string;
let gateway: TestSmsGateway;
let ts: TestServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-model-'));
  await writeFile(path.join(dir, 'risk.yaml'), MODEL);
  gateway = new TestSmsGateway({ secret: SECRET, delayMs: [1, 10], receiptDelayMs: [50, 200], failRate: 0 });
  await gateway.start();
  ts = await startTestServer({
    topologyYaml: POOL_TOPOLOGY,
    extra: {
      risk: { file: path.join(dir, 'risk.yaml'), dashboardUrl: 'https://gw.example/' },
      notify: { gateway: { url: gateway.url, account: 'gw', secret: SECRET }, retryBaseMs: 100, retryMaxMs: 500 },
    },
  });
  gateway.receiptUrl = `${ts.server.url}/api/notify/receipts`;
}, 60_000);

afterAll(async () => {
  await ts?.close();
  await gateway?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function json(url: string, method = 'GET', body?: unknown) {
  const res = await ts.fetch(url, { method, role: 'operator', ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as any };
}

describe('risk items from the risk runtime', () => {
  it('a computed red day opens an item for the station head, with its SMS; the ranking counts it', async () => {
    expect((await json('/api/contacts', 'PUT', { people: PEOPLE })).status).toBe(403);
    const put = await ts.fetch('/api/contacts', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ people: PEOPLE }) });
    expect(put.status).toBe(200);
    const yesterday = addDays(dayOf(Date.now(), '+08:00'), -1);
    const call = await json('/api/tickets', 'POST', { customer: 'C1', time: `${yesterday}T12:00:00+08:00`, text: '家里停电' });
    expect(call.status).toBeLessThan(300);
    const computed = await json('/api/risk/compute', 'POST', { day: yesterday });
    expect(computed.status).toBe(200);
    expect(computed.body.days.map((d: { station: string; code: string }) => [d.station, d.code]).sort()).toEqual([['s1', 'red'], ['s2', 'green']]);
    const items = (await json('/api/risk/items')).body;
    expect(items.total).toBe(1);
    expect(items.items[0]).toMatchObject({ station: 's1', openedCode: 'red', day: yesterday, driving: 'repair-calls-per-1000', state: 'open', assignees: [{ id: 'head1', name: '东区所长' }] });
    await until(() => (gateway.messages().some((m) => m.phone === '13900000101') ? [] : ['no SMS to the s1 head']), 20_000, 'opening SMS');
    expect(gateway.messages().find((m) => m.phone === '13900000101')!.text).toContain(`https://gw.example/#/risk/items/${items.items[0].id}`);
    expect(gateway.messages().some((m) => m.phone === '13900000102')).toBe(false);
    const ranking = (await json(`/api/risk/ranking?day=${yesterday}`)).body;
    expect(ranking.rows.map((r: { station: string; openItems: number }) => [r.station, r.openItems])).toEqual([['s1', 1], ['s2', 0]]);
  });
});
