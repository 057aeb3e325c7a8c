/**
 * User management over real HTTP: create, role and station changes, disable /
 * enable, delete, own password change and admin reset, the last admin kept,
 * clear JSON errors for bad input, the audit log of every change and its
 * query; and the first admin's generated password kept in a mode-600 file,
 * never on stdout.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';
import { memoryLog } from '../support/logger.ts';
import { eventually } from '../support/ws-client.ts';
import { serverEntryArgs } from '../support/server-process.ts';

const TOPOLOGY = `
sites:
  - { id: us-a, name: Station A }
  - { id: us-b, name: Station B }
`;
const PW = 'user-password-1';

let ts: TestServer;
beforeAll(async () => {
  ts = await startTestServer({ topologyYaml: TOPOLOGY });
});
afterAll(async () => ts?.close());

const json = async (r: Response) => (await r.json()) as any;
function admin(url: string, method = 'GET', body?: unknown): Promise<Response> {
  return ts.fetch(url, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
}
function withCookie(cookie: string, url: string, method = 'GET', body?: unknown): Promise<Response> {
  return fetch(ts.server.url + url, { method, headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? null : JSON.stringify(body) });
}
function upgrade(cookie: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(ts.wsUrl, { headers: { cookie } });
    ws.once('open', () => (ws.close(), resolve(101)));
    ws.once('unexpected-response', (_req, res) => (resolve(res.statusCode ?? 0), ws.terminate()));
    ws.once('error', reject);
  });
}
async function create(username: string, role = 'viewer', extra: Record<string, unknown> = {}): Promise<Response> {
  return admin('/api/users', 'POST', { username, password: PW, role, ...extra });
}

describe('creating users', () => {
  it('creates a user with stations and refuses duplicates, bad names, unknown or empty stations', async () => {
    const r = await create('us-new', 'operator', { sites: ['us-a'] });
    expect(r.status, await r.clone().text()).toBe(201);
    expect((await json(r)).user).toMatchObject({ username: 'us-new', role: 'operator', sites: ['us-a'], disabled: false });
    const dup = await create('us-new');
    expect(dup.status).toBe(409);
    expect((await json(dup)).error.code).toBe('GW_ERR_USER_EXISTS');
    const unknown = await create('us-x', 'viewer', { sites: ['us-a', 'nowhere'] });
    expect(unknown.status).toBe(400);
    expect(await json(unknown)).toEqual({ error: { code: 'GW_ERR_USER_INVALID', message: 'sites: not in the topology: nowhere' } });
    for (const body of [
      { username: 'bad name!', password: PW, role: 'viewer' },
      { username: 'us-y', password: 'short', role: 'viewer' },
      { username: 'us-y', password: PW, role: 'root' },
      { username: 'us-y', password: PW, role: 'viewer', sites: [] },
      { username: 'us-y', password: PW, role: 'viewer', sites: 'us-a' },
      { username: 'us-y', password: PW, role: 'viewer', extra: 1 },
    ]) {
      const res = await admin('/api/users', 'POST', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((await json(res)).error.code).toMatch(/^GW_ERR_(HTTP_BAD_REQUEST|USER_INVALID)$/);
    }
    const users = (await json(await admin('/api/users'))).users.map((u: { username: string }) => u.username);
    expect(users).toContain('us-new');
    expect(users).not.toContain('us-x');
    expect(users).not.toContain('us-y');
    expect((await json(await admin('/api/users/us-new'))).user.sites).toEqual(['us-a']);
    expect((await admin('/api/users/nobody')).status).toBe(404);
  });
});

describe('changing users', () => {
  it('a role or station change takes effect on the running session', async () => {
    await create('us-role');
    const cookie = await login(ts.server.url, 'us-role', PW);
    expect((await json(await withCookie(cookie, '/api/me'))).role).toBe('viewer');
    const p = await admin('/api/users/us-role', 'PATCH', { role: 'operator', sites: ['us-b'] });
    expect(p.status, await p.clone().text()).toBe(200);
    const me = await json(await withCookie(cookie, '/api/me'));
    expect(me).toMatchObject({ role: 'operator', sites: ['us-b'] });
    expect((await json(await withCookie(cookie, '/api/topology'))).sites.map((s: { id: string }) => s.id)).toEqual(['us-b']);
    await admin('/api/users/us-role', 'PATCH', { sites: null });
    expect((await json(await withCookie(cookie, '/api/me'))).sites).toBeNull();
    for (const body of [{}, { role: 'root' }, { sites: ['nowhere'] }, { disabled: 'yes' }, { password: 'x' }]) {
      const r = await admin('/api/users/us-role', 'PATCH', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await admin('/api/users/nobody', 'PATCH', { role: 'viewer' })).status).toBe(404);
  });

  it('disabling ends the sessions at once, REST and WebSocket; enabling lets the user log in again', async () => {
    await create('us-off');
    const cookie = await login(ts.server.url, 'us-off', PW);
    expect(await upgrade(cookie)).toBe(101);
    expect((await admin('/api/users/us-off', 'PATCH', { disabled: true })).status).toBe(200);
    expect((await withCookie(cookie, '/api/me')).status).toBe(401);
    expect(await upgrade(cookie)).toBe(401);
    const refused = await fetch(`${ts.server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'us-off', password: PW }) });
    expect(refused.status).toBe(401);
    expect((await json(refused)).error.code).toBe('GW_ERR_AUTH_BAD_CREDENTIALS');
    expect((await admin('/api/users/us-off', 'PATCH', { disabled: false })).status).toBe(200);
    const again = await login(ts.server.url, 'us-off', PW);
    expect((await withCookie(again, '/api/me')).status).toBe(200);
    // the session from before the disable stays ended
    expect((await withCookie(cookie, '/api/me')).status).toBe(401);
  });

  it('open WebSockets of a user end when it is disabled, deleted, its password reset or its stations changed; a role change keeps them', async () => {
    const closed = (ws: WebSocket) => new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const open = async (cookie: string) => {
      const ws = new WebSocket(ts.wsUrl, { headers: { cookie } });
      await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
      return ws;
    };
    await create('us-live');
    const cookie = await login(ts.server.url, 'us-live', PW);
    const bySites = await open(cookie);
    const c1 = closed(bySites);
    expect((await admin('/api/users/us-live', 'PATCH', { role: 'operator' })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(bySites.readyState).toBe(WebSocket.OPEN);
    expect((await admin('/api/users/us-live', 'PATCH', { sites: ['us-a'] })).status).toBe(200);
    expect(await c1).toBe(1008);
    const scoped = await open(cookie);
    const c2 = closed(scoped);
    expect((await admin('/api/users/us-live', 'PATCH', { disabled: true })).status).toBe(200);
    expect(await c2).toBe(1008);
    await admin('/api/users/us-live', 'PATCH', { disabled: false });
    for (const [method, url, body] of [['PUT', '/api/users/us-live/password', { password: 'live-password-2' }], ['DELETE', '/api/users/us-live', undefined]] as const) {
      const ws = await open(await login(ts.server.url, 'us-live', method === 'PUT' ? PW : 'live-password-2'));
      const c = closed(ws);
      expect((await admin(url, method, body)).status).toBe(200);
      expect(await c, url).toBe(1008);
    }
  });

  it('logout ends the WebSockets of that session, not those of the user\'s other sessions', async () => {
    await create('us-out');
    const [a, b] = [await login(ts.server.url, 'us-out', PW), await login(ts.server.url, 'us-out', PW)];
    const open = async (cookie: string) => {
      const ws = new WebSocket(ts.wsUrl, { headers: { cookie } });
      await new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject)));
      return ws;
    };
    const [wa, wb] = [await open(a), await open(b)];
    const closedA = new Promise<number>((resolve) => wa.once('close', (code) => resolve(code)));
    expect((await withCookie(a, '/api/logout', 'POST')).status).toBe(200);
    expect(await closedA).toBe(1008);
    await new Promise((r) => setTimeout(r, 300));
    expect(wb.readyState).toBe(WebSocket.OPEN);
    wb.close();
  });

  it('deleting ends the sessions; an unknown user is 404', async () => {
    await create('us-del');
    const cookie = await login(ts.server.url, 'us-del', PW);
    expect((await admin('/api/users/us-del', 'DELETE')).status).toBe(200);
    expect((await withCookie(cookie, '/api/me')).status).toBe(401);
    const again = await admin('/api/users/us-del', 'DELETE');
    expect(again.status).toBe(404);
    expect((await json(again)).error.code).toBe('GW_ERR_USER_UNKNOWN');
  });

  it('the last enabled admin of every station cannot be deleted, disabled, demoted or narrowed', async () => {
    for (const [method, body] of [['DELETE', undefined], ['PATCH', { disabled: true }], ['PATCH', { role: 'operator' }], ['PATCH', { sites: ['us-a'] }]] as const) {
      const r = await admin('/api/users/admin', method, body);
      expect(r.status, `${method} ${JSON.stringify(body)}`).toBe(409);
      expect((await json(r)).error.code).toBe('GW_ERR_USER_LAST_ADMIN');
    }
    // an admin scoped to some stations cannot manage users: it does not count
    await create('us-admin-a', 'admin', { sites: ['us-a'] });
    expect((await admin('/api/users/admin', 'DELETE')).status).toBe(409);
    // with a second admin of every station, the first may be demoted; then the second is the last
    await create('us-admin2', 'admin');
    const second = await login(ts.server.url, 'us-admin2', PW);
    expect((await admin('/api/users/admin', 'PATCH', { role: 'operator' })).status).toBe(200);
    expect((await withCookie(second, '/api/users/us-admin2', 'DELETE')).status).toBe(409);
    expect((await withCookie(second, '/api/users/admin', 'PATCH', { role: 'admin' })).status).toBe(200);
  });
});

describe('passwords', () => {
  it('a user changes its own password with the current one; its other sessions end, the caller gets a new one', async () => {
    await create('us-pw');
    const a = await login(ts.server.url, 'us-pw', PW);
    const b = await login(ts.server.url, 'us-pw', PW);
    const wrong = await withCookie(a, '/api/me/password', 'POST', { currentPassword: 'not-it', newPassword: 'new-password-1' });
    expect(wrong.status).toBe(403);
    expect((await json(wrong)).error.code).toBe('GW_ERR_AUTH_WRONG_PASSWORD');
    expect((await withCookie(a, '/api/me/password', 'POST', { currentPassword: PW, newPassword: 'short' })).status).toBe(400);
    expect((await withCookie(a, '/api/me/password', 'POST', { currentPassword: PW })).status).toBe(400);
    const ok = await withCookie(a, '/api/me/password', 'POST', { currentPassword: PW, newPassword: 'new-password-1' });
    expect(ok.status, await ok.clone().text()).toBe(200);
    const fresh = ok.headers.get('set-cookie')!.split(';')[0]!;
    expect((await withCookie(fresh, '/api/me')).status).toBe(200);
    expect((await withCookie(a, '/api/me')).status).toBe(401);
    expect((await withCookie(b, '/api/me')).status).toBe(401);
    await expect(login(ts.server.url, 'us-pw', PW)).rejects.toThrow(/401/);
    await login(ts.server.url, 'us-pw', 'new-password-1');
    expect((await fetch(`${ts.server.url}/api/me/password`, { method: 'POST' })).status).toBe(401);
  });

  it('an admin reset ends every session of the user', async () => {
    await create('us-reset');
    const a = await login(ts.server.url, 'us-reset', PW);
    expect((await admin('/api/users/us-reset/password', 'PUT', { password: 'reset-password-1' })).status).toBe(200);
    expect((await withCookie(a, '/api/me')).status).toBe(401);
    await login(ts.server.url, 'us-reset', 'reset-password-1');
    expect((await admin('/api/users/nobody/password', 'PUT', { password: 'reset-password-1' })).status).toBe(404);
    expect((await admin('/api/users/us-reset/password', 'PUT', { password: 'short' })).status).toBe(400);
    expect((await ts.fetch('/api/users/us-reset/password', { role: 'operator', method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: 'reset-password-2' }) })).status).toBe(403);
  });
});

describe('audit log', () => {
  it('records logins, failures, user changes, password changes and refused WebSockets; admins query it', async () => {
    await fetch(`${ts.server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'us-new', password: 'wrong-one' }) });
    expect(await upgrade('gw_session=forged.token')).toBe(401);
    const events = (await json(await admin('/api/audit?limit=10000'))).events as Array<{ kind: string; actor: string; target?: string; ip?: string; ts: number }>;
    const has = (kind: string, pred: (e: (typeof events)[number]) => boolean = () => true) => events.some((e) => e.kind === kind && pred(e));
    expect(has('login', (e) => e.actor === 'us-pw' && e.ip === '127.0.0.1')).toBe(true);
    expect(has('login_failed', (e) => e.actor === 'us-new')).toBe(true);
    expect(has('user_created', (e) => e.actor === 'admin' && e.target === 'us-new')).toBe(true);
    expect(has('user_updated', (e) => e.target === 'us-role')).toBe(true);
    expect(has('user_disabled', (e) => e.target === 'us-off')).toBe(true);
    expect(has('user_enabled', (e) => e.target === 'us-off')).toBe(true);
    expect(has('user_deleted', (e) => e.target === 'us-del')).toBe(true);
    expect(has('password_changed', (e) => e.actor === 'us-pw')).toBe(true);
    expect(has('password_reset', (e) => e.target === 'us-reset')).toBe(true);
    expect(has('ws_refused')).toBe(true);
    // newest first; filters by kind, actor and time
    expect(events.map((e) => e.ts)).toEqual([...events.map((e) => e.ts)].sort((x, y) => y - x));
    const logins = (await json(await admin('/api/audit?kind=login,logout&actor=us-pw'))).events;
    expect(logins.length).toBeGreaterThan(0);
    expect(logins.every((e: { kind: string; actor: string }) => ['login', 'logout'].includes(e.kind) && e.actor === 'us-pw')).toBe(true);
    expect((await json(await admin(`/api/audit?from=${Date.now() + 60_000}`))).events).toEqual([]);
    expect((await json(await admin('/api/audit?limit=1'))).events).toHaveLength(1);
    const bad = await admin('/api/audit?kind=nonsense');
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.code).toBe('GW_ERR_HTTP_BAD_REQUEST');
    expect((await admin('/api/audit?from=yesterday')).status).toBe(400);
    expect((await admin('/api/audit?color=red')).status).toBe(400);
    expect((await ts.fetch('/api/audit', { role: 'operator' })).status).toBe(403);
  });
});

describe('the first admin', () => {
  it('gets a generated password in a mode-600 file, logged by where it is, never printed; the file goes once it is changed', async () => {
    const { log, lines } = memoryLog('info');
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    let fresh: TestServer;
    try {
      fresh = await startTestServer({ extra: { auth: {} }, log });
    } finally {
      process.stdout.write = write;
    }
    try {
      const file = path.join(fresh.dataDir, 'initial-admin-password');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const password = (await readFile(file, 'utf8')).trim();
      expect(password.length).toBeGreaterThanOrEqual(16);
      expect(written.join('')).not.toContain(password);
      expect(JSON.stringify(lines)).not.toContain(password);
      expect(lines.some((l) => typeof l.file === 'string' && l.file === file)).toBe(true);
      const cookie = await login(fresh.server.url, 'admin', password);
      const r = await withCookieAt(fresh, cookie, { currentPassword: password, newPassword: TEST_PASSWORD });
      expect(r.status, await r.clone().text()).toBe(200);
      expect(existsSync(file)).toBe(false);
    } finally {
      await fresh.close();
    }
  });
});

describe('the first admin at a terminal', () => {
  it('is shown the generated password when stdout is a terminal (a real pty), and it is the one in the file', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-tty-'));
    // `script` runs the server on a pseudo-terminal and copies what it prints
    const child = spawn('script', ['-qec', [process.execPath, ...serverEntryArgs()].join(' '), '/dev/null'], {
      env: { ...process.env, GW_DATA_DIR: dir, GW_HTTP_PORT: '0', GW_MQTT_EMBEDDED_PORT: '0', GW_LOG_LEVEL: 'warn', GW_ADMIN_PASSWORD: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const shown = await eventually(() => /user "admin", password (\S+)/.exec(out)?.[1], 45_000, `the password on the terminal; got ${out.slice(-500)}`);
      expect((await readFile(path.join(dir, 'initial-admin-password'), 'utf8')).trim()).toBe(shown);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function withCookieAt(t: TestServer, cookie: string, body: unknown): Promise<Response> {
  return fetch(`${t.server.url}/api/me/password`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
