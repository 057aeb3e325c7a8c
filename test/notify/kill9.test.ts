/**
 * 10,000 notices through the real server process and the test gateway with
 * 5 % failures; the server is killed with SIGKILL in the middle of the batch
 * and started again on the same data: every message ends delivered or failed
 * after its retries, and the gateway never got one message twice.
 */
import { afterAll, expect, it } from 'vitest';
import { TestSmsGateway } from '../support/sms-gateway.ts';
import { NotifyChildServer } from './child-server.ts';
import { notices, until } from './support.ts';

const SECRET = 'kill9-test-secret-0123';
const N = 10_000;
const MAX_ATTEMPTS = 6;
let gateway: TestSmsGateway | undefined;
let server: NotifyChildServer | undefined;
afterAll(async () => {
  await server?.close();
  await gateway?.stop();
});

it('survives kill -9 mid-batch: all 10,000 end delivered or failed after retries, none sent twice', async () => {
  gateway = new TestSmsGateway({ secret: SECRET, failRate: 0.05, delayMs: [1, 30], receiptDelayMs: [500, 2000], duplicateReceiptRate: 0.1, seed: 3 });
  await gateway.start();
  server = await NotifyChildServer.create({
    gateway: { url: gateway.url, account: 'gw-test', secret: SECRET, timeoutMs: 10_000 },
    ratePerS: 1500, concurrency: 48, maxAttempts: MAX_ATTEMPTS, retryBaseMs: 200, retryMaxMs: 2000,
  });
  await server.start();
  gateway.receiptUrl = `${server.url}/api/notify/receipts`;
  const all = notices(N, 'K');
  for (let i = 0; i < N; i += 2500) {
    const r = await server.request('/api/notify/messages', { method: 'POST', body: JSON.stringify({ messages: all.slice(i, i + 2500) }) });
    expect(r).toMatchObject({ accepted: 2500, duplicates: 0, rejected: [] });
  }
  // mid-batch: some sent, many still to go
  await until(() => gateway!.stats().sent >= 2500, 60_000, '2500 sent', 5);
  await server.kill9();
  const sentAtKill = gateway.stats().sent;
  expect(sentAtKill).toBeLessThan(N);
  await server.start();
  gateway.receiptUrl = `${server.url}/api/notify/receipts`;
  const replay = server.logs.filter((l) => l.msg === 'notify journal replayed').at(-1) as { messages: number; queued: number; resolving: number };
  expect(replay.messages).toBe(N);
  expect(replay.queued + replay.resolving).toBeGreaterThan(0);
  // the same batch again after the restart: every key known, nothing new
  expect(await server.request('/api/notify/messages', { method: 'POST', body: JSON.stringify({ messages: all.slice(0, 2500) }) })).toMatchObject({ accepted: 0, duplicates: 2500 });
  let st: { byState: Record<string, number> } = { byState: {} };
  await until(() => {
    void server!.request('/api/notify/status').then((s) => (st = s), () => undefined);
    return (st.byState.delivered ?? 0) + (st.byState.failed ?? 0) === N && gateway!.stats().pendingReceipts === 0;
  }, 150_000, 'every message final', 500);
  const g = gateway.stats();
  console.log(`kill -9 after ${sentAtKill} sent; resolving at restart ${replay.resolving}, queued ${replay.queued}; gateway: ${JSON.stringify(g)}; states ${JSON.stringify(st.byState)}`);
  expect(g.duplicateSends).toBe(0);
  const { messages } = (await server.request('/api/notify/messages?kind=plan&id=K')) as { messages: Array<{ state: string; attempts: number; gatewayId?: string }> };
  expect(messages).toHaveLength(N);
  for (const m of messages) {
    if (m.state === 'failed') expect(m.attempts).toBe(MAX_ATTEMPTS);
    else expect(m.state).toBe('delivered');
  }
  // every delivered message was sent exactly once, by its own client id
  const delivered = messages.filter((m) => m.state === 'delivered');
  expect(new Set(delivered.map((m) => m.gatewayId)).size).toBe(delivered.length);
  expect(g.sent).toBe(delivered.length);
}, 240_000);
