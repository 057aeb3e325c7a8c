/**
 * Access control: every route × anonymous / viewer / operator / admin, the
 * WebSocket upgrade (session and Origin), login rate limiting, cookie and
 * security headers, password storage, and sessions across a restart.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_PASSWORD, type TestRole, type TestServer } from '../support/server.ts';

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({});
});
afterAll(async () => ts?.close());

type Who = 'anonymous' | TestRole;
const WHO: Who[] = ['anonymous', 'viewer', 'operator', 'admin'];
const RANK: Record<Who, number> = { anonymous: -1, viewer: 0, operator: 1, admin: 2 };

/** Every REST route with the least role it needs ('public' for none); `allowed`: the status a permitted role gets, when not 2xx. */
const ROUTES: Array<{ method: 'GET' | 'POST' | 'PUT'; url: string; min: Who | 'public'; body?: unknown; allowed?: number }> = [
  { method: 'GET', url: '/api/health', min: 'viewer' },
  { method: 'GET', url: '/api/topology', min: 'viewer' },
  { method: 'GET', url: '/api/quantities', min: 'viewer' },
  { method: 'GET', url: '/api/latest', min: 'viewer' },
  { method: 'GET', url: '/api/history?device=x&quantity=ua&from=0&to=1000', min: 'viewer' },
  { method: 'GET', url: '/metrics', min: 'viewer' },
  { method: 'GET', url: '/api/me', min: 'viewer' },
  { method: 'GET', url: '/api/users', min: 'admin' },
  { method: 'POST', url: '/api/users', min: 'admin', body: { username: 'new-user', password: 'long-enough-pw', role: 'viewer' } },
  { method: 'POST', url: '/api/logout', min: 'viewer' },
  { method: 'GET', url: '/api/alarms', min: 'viewer' },
  { method: 'GET', url: '/api/alarms/u-deviation%3Aacc-m1', min: 'viewer', allowed: 404 },
  { method: 'GET', url: '/api/alarms/u-deviation%3Aacc-m1/history', min: 'viewer', allowed: 404 },
  { method: 'POST', url: '/api/alarms/u-deviation%3Aacc-m1/acknowledge', min: 'operator', body: { comment: 'c' }, allowed: 404 },
  { method: 'POST', url: '/api/alarms/u-deviation%3Aacc-m1/shelve', min: 'operator', body: { reason: 'r', forS: 60 }, allowed: 404 },
  { method: 'POST', url: '/api/alarms/u-deviation%3Aacc-m1/unshelve', min: 'operator', body: {}, allowed: 404 },
  { method: 'POST', url: '/api/alarms/u-deviation%3Aacc-m1/comment', min: 'operator', body: { comment: 'c' }, allowed: 404 },
  { method: 'POST', url: '/api/alarms/u-deviation%3Aacc-m1/remove-from-service', min: 'admin', body: { reason: 'meter swap' } },
  { method: 'POST', url: '/api/alarms/u-deviation%3Aacc-m1/return-to-service', min: 'admin', body: {} },
  { method: 'GET', url: '/api/alarm-events', min: 'viewer' },
  { method: 'GET', url: '/api/alarm-health', min: 'viewer' },
  { method: 'GET', url: '/api/alarm-rules', min: 'viewer' },
  { method: 'GET', url: '/api/alarm-rules/tx-load', min: 'viewer' },
  { method: 'PUT', url: '/api/alarm-rules', min: 'admin', body: { version: 1, useDefaults: true, rules: [] } },
  { method: 'PUT', url: '/api/alarm-rules/tx-load', min: 'admin', body: { onDelayS: 3600 } },
  { method: 'GET', url: '/api/agents', min: 'admin' },
  { method: 'POST', url: '/api/agents', min: 'admin', body: { agent: 'acc-agent', site: 'acc-site' } },
  { method: 'POST', url: '/api/agents/acc-agent/rotate', min: 'admin' },
  { method: 'POST', url: '/api/agents/acc-agent/revoke', min: 'admin' },
  { method: 'GET', url: '/', min: 'public' },
];

describe('every route × every role', () => {
  for (const route of ROUTES) {
    for (const who of WHO) {
      it(`${route.method} ${route.url} as ${who}`, async () => {
        const headers: Record<string, string> = {};
        // logout revokes the session: use a fresh login for it
        if (who !== 'anonymous') headers.cookie = route.url === '/api/logout' ? await freshCookie(who) : await ts.cookie(who);
        if (route.body) headers['content-type'] = 'application/json';
        const res = await fetch(ts.server.url + route.url, { method: route.method, headers, body: route.body ? JSON.stringify(route.body) : null });
        if (route.min === 'public' || RANK[who] >= RANK[route.min]) {
          if (route.allowed) expect(res.status, await res.clone().text()).toBe(route.allowed);
          else expect(res.status, await res.clone().text()).toBeLessThan(400);
        } else {
          expect(res.status).toBe(who === 'anonymous' ? 401 : 403);
          expect((await res.json()).error.code).toBe(who === 'anonymous' ? 'GW_ERR_AUTH_REQUIRED' : 'GW_ERR_AUTH_FORBIDDEN');
        }
      });
    }
  }
});

async function freshCookie(role: TestRole): Promise<string> {
  const res = await fetch(`${ts.server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: role, password: TEST_PASSWORD }) });
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

function upgrade(headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(ts.wsUrl, { headers });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (e) => reject(e));
  });
}

describe('WebSocket upgrade', () => {
  it('needs a session', async () => {
    expect(await upgrade({})).toBe(401);
    expect(await upgrade({ cookie: 'gw_session=forged.token' })).toBe(401);
    expect(await upgrade({ cookie: await ts.cookie('viewer') })).toBe(101);
  });

  it("checks Origin against the server's own origin", async () => {
    const cookie = await ts.cookie('viewer');
    expect(await upgrade({ cookie, origin: 'http://evil.example' })).toBe(403);
    expect(await upgrade({ cookie, origin: ts.server.url })).toBe(101);
  });

  it('compares the Origin by scheme, host and port, not the host alone', async () => {
    const cookie = await ts.cookie('viewer');
    const own = new URL(ts.server.url);
    // the same host over another scheme, or on another port, is another origin
    expect(await upgrade({ cookie, origin: `https://${own.host}` })).toBe(403);
    expect(await upgrade({ cookie, origin: `http://${own.hostname}:${Number(own.port) === 1 ? 2 : 1}` })).toBe(403);
    expect(await upgrade({ cookie, origin: `ws://${own.host}` })).toBe(403);
    expect(await upgrade({ cookie, origin: 'null' })).toBe(403);
    expect(await upgrade({ cookie, origin: `${ts.server.url}/` })).toBe(101);
    const refused = ts.server.audit.query({ kind: ['ws_refused'] });
    expect(refused.some((e) => e.detail?.includes(`https://${own.host}`))).toBe(true);
  });

  it('an allow-list is compared the same way (scheme, host, port; a trailing slash in the list is no matter)', async () => {
    const listed = await startTestServer({ extra: { auth: { adminPassword: TEST_PASSWORD, allowedOrigins: ['https://ops.example.com/', 'http://10.0.0.5:8080'] } } });
    try {
      const cookie = await listed.cookie('viewer');
      const at = (origin: string) =>
        new Promise<number>((resolve, reject) => {
          const ws = new WebSocket(listed.wsUrl, { headers: { cookie, origin } });
          ws.once('open', () => (ws.close(), resolve(101)));
          ws.once('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), ws.terminate()));
          ws.once('error', reject);
        });
      expect(await at('https://ops.example.com')).toBe(101);
      expect(await at('https://ops.example.com:443')).toBe(101);
      expect(await at('http://10.0.0.5:8080')).toBe(101);
      expect(await at('http://ops.example.com')).toBe(403);
      expect(await at('https://ops.example.com:8443')).toBe(403);
      expect(await at('http://10.0.0.5')).toBe(403);
      expect(await at('https://ops.example.com.evil.example')).toBe(403);
    } finally {
      await listed.close();
    }
  });

  it('accepts a bearer token as well as the cookie', async () => {
    const res = await fetch(`${ts.server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'viewer', password: TEST_PASSWORD }) });
    const { token } = await res.json();
    expect(await upgrade({ authorization: `Bearer ${token}` })).toBe(101);
    expect((await fetch(`${ts.server.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });
});

describe('login', () => {
  it('sets an httpOnly SameSite=Strict cookie and security headers', async () => {
    const res = await fetch(`${ts.server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: TEST_PASSWORD }) });
    expect(res.status).toBe(200);
    const set = res.headers.get('set-cookie')!;
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Strict/i);
    const page = await fetch(`${ts.server.url}/api/me`, { headers: { cookie: set.split(';')[0]! } });
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBeTruthy();
  });

  it('rejects a wrong password and rate-limits repeated failures', async () => {
    const attempt = (password: string) =>
      fetch(`${ts.server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'operator', password }) });
    for (let i = 0; i < 5; i++) {
      const r = await attempt('wrong');
      expect(r.status).toBe(401);
      expect((await r.json()).error.code).toBe('GW_ERR_AUTH_BAD_CREDENTIALS');
    }
    const locked = await attempt(TEST_PASSWORD);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await locked.json()).error.code).toBe('GW_ERR_AUTH_RATE_LIMITED');
  });

  it('rejects hostile login bodies with 400', async () => {
    for (const body of ['{', '[]', JSON.stringify({ username: 'a' }), JSON.stringify({ username: 'a', password: 'b', extra: 1 }), JSON.stringify({ username: 'x'.repeat(100), password: 'b' })]) {
      const r = await fetch(`${ts.server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(r.status, body).toBe(400);
    }
  });

  it('stores scrypt hashes, never passwords', async () => {
    const text = await readFile(path.join(ts.dataDir, 'users.json'), 'utf8');
    expect(text).not.toContain(TEST_PASSWORD);
    expect(text).toMatch(/"passwordHash": "scrypt\$/);
  });

  it('keeps a session valid across a server restart, and logout ends it', async () => {
    const dir = ts.dataDir;
    const cookie = await freshCookie('viewer');
    await ts.close({ keepData: true });
    ts = await startTestServer({ dataDir: dir });
    expect((await fetch(`${ts.server.url}/api/me`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${ts.server.url}/api/logout`, { method: 'POST', headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${ts.server.url}/api/me`, { headers: { cookie } })).status).toBe(401);
  });
});
