/**
 * Login limits under parallel load, over real HTTP: 200 simultaneous wrong
 * passwords for one user get at most `loginMaxFailures` password checks (the
 * rest 429 before any hashing), and a spray over 200 user names never runs
 * more than `loginConcurrency` checks at once (the overflow is refused 429).
 * The refusals are in the audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ extra: { auth: { adminPassword: TEST_PASSWORD, loginMaxFailures: 5, loginWindowS: 300, loginConcurrency: 2, loginQueue: 8 } } });
});
afterAll(async () => ts?.close());

function attempt(username: string, password: string): Promise<Response> {
  return fetch(`${ts.server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
}

async function statuses(responses: Response[]): Promise<Record<number, number>> {
  const out: Record<number, number> = {};
  for (const r of responses) {
    out[r.status] = (out[r.status] ?? 0) + 1;
    await r.arrayBuffer();
  }
  return out;
}

describe('login limits in parallel', () => {
  it('200 simultaneous wrong passwords for one user: at most 5 password checks, the rest 429', async () => {
    const before = ts.server.auth.limiter.checks;
    const responses = await Promise.all(Array.from({ length: 200 }, () => attempt('operator', 'wrong-password')));
    const checks = ts.server.auth.limiter.checks - before;
    const by = await statuses(responses);
    expect(checks).toBeLessThanOrEqual(5);
    expect(by[401] ?? 0).toBe(checks);
    expect(by[429]).toBe(200 - checks);
    const last = await attempt('operator', TEST_PASSWORD);
    expect(last.status).toBe(429);
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await last.json()).error.code).toBe('GW_ERR_AUTH_RATE_LIMITED');
    expect(ts.server.audit.query({ kind: ['login_rate_limited'], actor: 'operator' }).length).toBeGreaterThan(0);
  });

  it('a spray over 200 user names never runs more checks at once than configured; the overflow is refused 429', async () => {
    const before = ts.server.auth.limiter.checks;
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => attempt(`spray-${i}`, 'wrong-password')));
    const by = await statuses(responses);
    expect(ts.server.auth.limiter.peakRunning).toBeLessThanOrEqual(2);
    expect(Object.keys(by).sort()).toEqual(['401', '429']);
    expect(by[429]).toBeGreaterThan(0);
    expect(by[401]).toBe(ts.server.auth.limiter.checks - before);
    // the server still answers a real login promptly afterwards
    expect((await attempt('viewer', TEST_PASSWORD)).status).toBe(200);
  });

  it('a success clears the failures of its address and name', async () => {
    for (let i = 0; i < 4; i++) expect((await attempt('viewer', 'wrong-password')).status).toBe(401);
    expect((await attempt('viewer', TEST_PASSWORD)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await attempt('viewer', 'wrong-password')).status).toBe(401);
    expect((await attempt('viewer', TEST_PASSWORD)).status).toBe(200);
  });
});
