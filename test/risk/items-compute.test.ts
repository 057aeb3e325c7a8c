/**
 * Risk items from the risk runtime in the real server process: a repair
 * call at one station, the operator's computation of the day (a
 * one-indicator model that turns it red) → a risk item for the station's
 * head with its SMS at the test gateway, and the ranking counting it in
 * `openItems`. The server killed with SIGKILL right after a follow-up was
 * answered keeps the item, its journal and its notice, sent once.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, dayOf } from '../../server/risk/days.ts';
import { POOL_TOPOLOGY } from '../outages/topology.ts';
import { TEST_PASSWORD } from '../support/server.ts';
import { ServerProcess } from '../support/server-process.ts';
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
let sp: ServerProcess;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-items-'));
  await writeFile(path.join(dir, 'risk.yaml'), MODEL);
  await writeFile(path.join(dir, 'topology.yaml'), POOL_TOPOLOGY);
  gateway = new TestSmsGateway({ secret: SECRET, delayMs: [1, 10], receiptDelayMs: [50, 200], failRate: 0 });
  await gateway.start();
  const config = {
    http: { host: '127.0.0.1', port: 0 },
    mqtt: { embedded: { host: '127.0.0.1', port: 0 } },
    dataDir: path.join(dir, 'data'),
    topologyFile: path.join(dir, 'topology.yaml'),
    auth: { adminPassword: TEST_PASSWORD },
    priority: os.getPriority(),
    risk: { file: path.join(dir, 'risk.yaml'), dashboardUrl: 'https://gw.example/' },
    notify: { gateway: { url: gateway.url, account: 'gw', secret: SECRET }, retryBaseMs: 100, retryMaxMs: 500 },
  };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
  sp = new ServerProcess(dir, path.join(dir, 'config.json'), 'risk items server');
  await sp.start();
  gateway.receiptUrl = `${sp.url}/api/notify/receipts`;
}, 90_000);

afterAll(async () => {
  await sp?.close();
  await gateway?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function json(url: string, method = 'GET', body?: unknown): Promise<any> {
  return sp.request(url, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

describe('risk items from the risk runtime', () => {
  it('a computed red day opens an item for the station head, with its SMS; the ranking counts it; kill -9 loses nothing', async () => {
    await json('/api/contacts', 'PUT', { people: PEOPLE });
    const yesterday = addDays(dayOf(Date.now(), '+08:00'), -1);
    await json('/api/tickets', 'POST', { customer: 'C1', time: `${yesterday}T12:00:00+08:00`, text: '家里停电' });
    const computed = await json('/api/risk/compute', 'POST', { day: yesterday });
    expect(computed.days.map((d: { station: string; code: string }) => [d.station, d.code]).sort()).toEqual([['s1', 'red'], ['s2', 'green']]);
    const items = await json('/api/risk/items');
    expect(items.total).toBe(1);
    const id = items.items[0].id as string;
    expect(items.items[0]).toMatchObject({ station: 's1', openedCode: 'red', day: yesterday, driving: 'repair-calls-per-1000', state: 'open', assignees: [{ id: 'head1', name: '东区所长' }] });
    await until(() => (gateway.messages().some((m) => m.phone === '13900000101') ? [] : ['no SMS to the s1 head']), 20_000, 'opening SMS');
    expect(gateway.messages().find((m) => m.phone === '13900000101')!.text).toContain(`https://gw.example/#/risk/items/${id}`);
    expect(gateway.messages().some((m) => m.phone === '13900000102')).toBe(false);
    const ranking = await json(`/api/risk/ranking?day=${yesterday}`);
    expect(ranking.rows.map((r: { station: string; openItems: number }) => [r.station, r.openItems])).toEqual([['s1', 1], ['s2', 0]]);

    // answered, then killed at once: the answer was on disk before the 200
    const answered = await json(`/api/risk/items/${id}/follow-up`, 'POST', { text: '已派员抢修' });
    expect(answered.state).toBe('answered');
    await sp.kill9();
    await sp.start();
    const after = await json(`/api/risk/items/${id}`);
    expect(after).toMatchObject({ state: 'answered', openedCode: 'red' });
    expect(after.events.map((e: { kind: string }) => e.kind)).toEqual(['opened', 'assigned', 'notified', 'follow-up']);
    expect(after.events.at(-1)).toMatchObject({ by: 'admin', text: '已派员抢修' });
    // the station's code is kept: the same day computed again opens nothing, and no second SMS
    await json('/api/risk/compute', 'POST', { day: yesterday });
    expect((await json('/api/risk/items')).total).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(gateway.messages().filter((m) => m.phone === '13900000101')).toHaveLength(1);
  });
});
