/**
 * Notices a plan owes survive a restart: a notified plan is cancelled while
 * the notification service does not take anything (its journal closed), so
 * the cancellation notices cannot be handed over; the plan's journal entry
 * says what it owes. The server restarts on the same data: the cancellation
 * reaches the customer through the test SMS gateway exactly once and the
 * plan owes nothing any more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TestSmsGateway } from '../support/sms-gateway.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually } from '../support/ws-client.ts';
import { POOL_TOPOLOGY } from './topology.ts';

const SECRET = 'handover-gateway-secret-0123456789';
const PHONE = '13800000004';
let ts: TestServer;
let gateway: TestSmsGateway;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-outage-handover-'));
  gateway = new TestSmsGateway({ secret: SECRET, delayMs: [1, 10], receiptDelayMs: [50, 200] });
  await gateway.start();
  ts = await startTestServer({
    topologyYaml: POOL_TOPOLOGY,
    dataDir: dir,
    extra: { outages: { tickMs: 200 }, notify: { gateway: { url: gateway.url, account: 'gw', secret: SECRET }, retryBaseMs: 100, retryMaxMs: 500 } },
  });
  gateway.receiptUrl = `${ts.server.url}/api/notify/receipts`;
}, 60_000);
afterAll(async () => {
  await ts?.close();
  await gateway?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function json(p: string, method = 'GET', body?: unknown) {
  const res = await ts.fetch(p, { method, role: 'operator', ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as any };
}
const toPhone = () => gateway.messages().filter((m) => m.phone === PHONE);

describe('notices owed across a restart', () => {
  it('a cancellation the notification service did not take is handed over after the restart, once', async () => {
    const start = Date.now() + 10 * 86_400_000;
    const p = await json('/api/plans', 'POST', { scope: [{ kind: 'transformer', site: 's1', transformer: 'T3' }], start, end: start + 3_600_000, reason: '检修' });
    expect(p.status).toBe(201);
    const id = p.body.id as string;
    expect((await json(`/api/plans/${id}/confirm`, 'POST', { customers: 1 })).body.state).toBe('notified');
    await eventually(() => toPhone().length === 1 || undefined, 15_000, 'the planned-outage notice');

    // nothing is taken from here on
    await ts.server.notifyParts.notify.stop();
    const c = await json(`/api/plans/${id}/cancel`, 'POST', { reason: '天气' });
    expect(c.status).toBe(200);
    expect(c.body.state).toBe('cancelled');
    // retried each tick, still owed
    await new Promise((r) => setTimeout(r, 1000));
    const owed = await json(`/api/plans/${id}`);
    expect(owed.body.handOver).toEqual([{ purpose: 'outage_cancelled', customers: ['C4'] }]);
    expect(toPhone()).toHaveLength(1);

    await ts.server.stop();
    await ts.server.start();
    gateway.receiptUrl = `${ts.server.url}/api/notify/receipts`;
    await eventually(() => toPhone().length === 2 || undefined, 15_000, 'the cancellation notice after the restart');
    const done = await eventually(async () => {
      const d = await json(`/api/plans/${id}`);
      return d.body.handOver === undefined ? d.body : undefined;
    }, 10_000, 'nothing owed');
    expect(done.timeline.map((e: { what: string }) => e.what)).toContain('notices handed over: outage_cancelled (1 customers)');
    // every entry carries its event kind for the dashboard to say it in the page's language
    expect(done.timeline.filter((e: { ev: unknown }) => !e.ev)).toEqual([]);
    expect(done.timeline.map((e: { ev: { k: string } }) => e.ev.k)).toEqual(['created', 'confirmed', 'notified', 'cancelled', 'handed_over']);
    // and only once, also after more ticks
    await new Promise((r) => setTimeout(r, 1500));
    expect(toPhone()).toHaveLength(2);
    expect(gateway.stats().duplicateSends).toBe(0);
  }, 90_000);
});
