/**
 * Authorization matrix over real HTTP and WebSocket: every REST route and
 * WebSocket action × role (viewer, operator, admin) × station scope (every
 * station / station A only). A scoped user sees its station's topology,
 * values, history, agents and alarms only; anything of station B is filtered
 * out of lists or answered 404 as if it did not exist; routes that act on
 * every station (users, audit, rules changes, metrics) refuse it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Feed, hotRule, startAlarmServer, testRules, type AlarmTestServer } from '../alarms/helpers.ts';
import { login } from '../support/server.ts';
import { connectWs, eventually, type RecordingClient } from '../support/ws-client.ts';

const A = 'usc-a';
const B = 'usc-b';
const AGENT_A = 'usc-agent-a';
const AGENT_B = 'usc-agent-b';
const TOPOLOGY = `
sites:
  - id: ${A}
    name: Station A
    rooms:
      - id: ra
        name: Room A
        agent: ${AGENT_A}
        transformers:
          - { id: t1, name: T1, ratedKva: 400, lines: [{ id: l1, name: L1, ratedCurrentA: 200, meter: usc-a1 }] }
  - id: ${B}
    name: Station B
    rooms:
      - id: rb
        name: Room B
        agent: ${AGENT_B}
        transformers:
          - { id: t1, name: T1, ratedKva: 400, lines: [{ id: l1, name: L1, ratedCurrentA: 200, meter: usc-b1 }] }
`;
const ALARM_A = 'usc-hot:usc-a1';
const ALARM_B = 'usc-hot:usc-b1';
const PASSWORD = 'scope-password-1';
const ROLES = ['viewer', 'operator', 'admin'] as const;
type Role = (typeof ROLES)[number];
type Scope = 'all' | 'one';
const CASES = ROLES.flatMap((role) => (['all', 'one'] as const).map((scope) => ({ role, scope, user: `usc-${role}-${scope}` })));

let ts: AlarmTestServer;
let feedA: Feed;
let feedB: Feed;
const cookies = new Map<string, string>();
let tNext = Date.now();
const stamp = () => (tNext = Math.max(Date.now(), tNext + 1));

async function as(user: string, url: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  const headers: Record<string, string> = { cookie: cookies.get(user)! };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(ts.server.url + url, { method: init.method ?? 'GET', headers, body: init.body === undefined ? null : JSON.stringify(init.body) });
}

beforeAll(async () => {
  ts = await startAlarmServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY, rulesYaml: testRules(hotRule('usc-hot')) });
  for (const c of CASES) {
    const res = await ts.fetch('/api/users', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: c.user, password: PASSWORD, role: c.role, ...(c.scope === 'one' ? { sites: [A] } : {}) }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    cookies.set(c.user, await login(ts.server.url, c.user, PASSWORD));
  }
  cookies.set('admin-watch', await ts.cookie('admin'));
  feedA = await Feed.open(inject('mqttUrl'), A, AGENT_A);
  feedB = await Feed.open(inject('mqttUrl'), B, AGENT_B);
  await feedA.publish([{ device: 'usc-a1', ts: stamp(), v: { temp: 90 } }]);
  await feedB.publish([{ device: 'usc-b1', ts: stamp(), v: { temp: 90 } }]);
  await eventually(async () => {
    const { alarms } = (await (await ts.fetch('/api/alarms')).json()) as { alarms: Array<{ alarmId: string }> };
    return alarms.length === 2;
  }, 15_000, 'both stations alarming');
}, 60_000);
afterAll(async () => {
  await feedA?.close();
  await feedB?.close();
  await ts?.close();
});

const json = async (r: Response) => (await r.json()) as any;

describe('REST × role × station scope', () => {
  for (const { role, scope, user } of CASES) {
    const one = scope === 'one';
    describe(`${role}, ${one ? 'station A only' : 'every station'}`, () => {
      it('topology, latest values and history', async () => {
        const topo = await json(await as(user, '/api/topology'));
        expect(topo.sites.map((s: { id: string }) => s.id)).toEqual(one ? [A] : [A, B]);
        const latest = await json(await as(user, '/api/latest'));
        const devices = latest.readings.map((r: { device: string }) => r.device).filter((d: string) => d.startsWith('usc-')).sort();
        expect(devices).toEqual(one ? ['usc-a1'] : ['usc-a1', 'usc-b1']);
        expect((await json(await as(user, `/api/latest?site=${B}`))).readings).toHaveLength(one ? 0 : 1);
        expect((await as(user, '/api/history?device=usc-a1&quantity=temp&from=0')).status).toBe(200);
        const hb = await as(user, '/api/history?device=usc-b1&quantity=temp&from=0');
        expect(hb.status).toBe(one ? 404 : 200);
        if (one) expect((await json(hb)).error.code).toBe('GW_ERR_HTTP_NOT_FOUND');
        // line l1 exists in both stations: a scoped user gets its own station's meter only
        const byLine = await json(await as(user, '/api/history?line=l1&quantity=temp&from=0'));
        expect(byLine.series.map((s: { device: string }) => s.device).sort()).toEqual(one ? ['usc-a1'] : ['usc-a1', 'usc-b1']);
      });

      it('health lists its stations\' agents only', async () => {
        await eventually(async () => Object.keys((await json(await ts.fetch('/api/health'))).agents).includes(AGENT_B), 10_000, 'agents seen');
        const agents = Object.keys((await json(await as(user, '/api/health'))).agents).filter((a) => a.startsWith('usc-'));
        expect(agents.sort()).toEqual(one ? [AGENT_A] : [AGENT_A, AGENT_B]);
      });

      it('alarms, one alarm, its history, the journal and the alarm health', async () => {
        const ids = (await json(await as(user, '/api/alarms'))).alarms.map((a: { alarmId: string }) => a.alarmId).sort();
        expect(ids).toEqual(one ? [ALARM_A] : [ALARM_A, ALARM_B]);
        expect((await json(await as(user, `/api/alarms?site=${B}`))).alarms).toHaveLength(one ? 0 : 1);
        expect((await as(user, `/api/alarms/${encodeURIComponent(ALARM_A)}`)).status).toBe(200);
        for (const p of ['', '/history']) {
          const r = await as(user, `/api/alarms/${encodeURIComponent(ALARM_B)}${p}`);
          expect(r.status, p).toBe(one ? 404 : 200);
          if (one) expect((await json(r)).error).toEqual({ code: 'GW_ERR_ALARM_UNKNOWN', message: `no alarm ${ALARM_B}` });
        }
        const events = (await json(await as(user, '/api/alarm-events?kind=transition'))).events.map((e: { alarmId: string }) => e.alarmId);
        expect(events).toContain(ALARM_A);
        expect(events.includes(ALARM_B)).toBe(!one);
        const health = await json(await as(user, '/api/alarm-health?position=site'));
        const positions = health.positions.map((p: { position: string }) => p.position);
        expect(positions).toContain(A);
        expect(positions.includes(B)).toBe(!one);
      });

      it('acts on its stations\' alarms only', async () => {
        const comment = (id: string) => as(user, `/api/alarms/${encodeURIComponent(id)}/comment`, { method: 'POST', body: { comment: `by ${user}` } });
        const ra = await comment(ALARM_A);
        const rb = await comment(ALARM_B);
        if (role === 'viewer') {
          expect([ra.status, rb.status]).toEqual([403, 403]);
          return;
        }
        expect(ra.status, await ra.clone().text()).toBe(200);
        expect(rb.status).toBe(one ? 404 : 200);
      });

      it('routes over every station need an unscoped admin', async () => {
        const allowed = role === 'admin' && !one;
        for (const [url, ok] of [['/api/users', allowed], ['/api/audit', allowed], ['/metrics', !one]] as const) {
          const r = await as(user, url);
          expect(r.status, url).toBe(ok ? 200 : 403);
          if (!ok) expect((await json(r)).error.code).toBe('GW_ERR_AUTH_FORBIDDEN');
        }
        for (const url of ['/api/users/admin', '/api/audit?kind=login']) {
          const r = await as(user, url);
          expect(r.status, url).toBe(allowed ? 200 : 403);
          if (!allowed) expect((await json(r)).error.code).toBe('GW_ERR_AUTH_FORBIDDEN');
        }
        // a rules change that fails validation: the role and scope check comes first
        const r = await as(user, '/api/alarm-rules/usc-hot', { method: 'PUT', body: { kind: 'nonsense' } });
        expect(r.status).toBe(allowed ? 400 : 403);
      });
    });
  }
});

describe('the alarm journal for a scoped user', () => {
  it('pages past the other station\'s entries: a limit counts its own entries only', async () => {
    const all = (await json(await ts.fetch('/api/alarm-events?kind=transition'))).events as Array<{ seq: number; alarmId: string }>;
    // an entry of B followed (not necessarily at once) by one of A
    const b = all.findIndex((e, i) => e.alarmId === ALARM_B && all.slice(i + 1).some((x) => x.alarmId === ALARM_A));
    expect(b).toBeGreaterThan(-1);
    const nextA = all.slice(b + 1).find((x) => x.alarmId === ALARM_A)!;
    const after = b === 0 ? 0 : all[b - 1]!.seq;
    const page = (await json(await as('usc-viewer-one', `/api/alarm-events?kind=transition&limit=1&afterSeq=${after}`))).events;
    expect(page.map((e: { seq: number }) => e.seq)).toEqual([nextA.seq]);
  });
});

async function wsAs(user: string): Promise<RecordingClient> {
  const c = await connectWs(ts.wsUrl, { cookie: cookies.get(user)! });
  await c.next((f) => f.type === 'snapshot');
  return c;
}
const devicesOf = (frames: any[], type: string) =>
  [...new Set(frames.filter((f) => f.type === type).flatMap((f) => f.readings.map((r: { device: string }) => r.device)))].filter((d) => (d as string).startsWith('usc-')).sort();

describe('WebSocket × role × station scope', () => {
  for (const { role, scope, user } of CASES) {
    const one = scope === 'one';
    it(`${role}, ${one ? 'station A only' : 'every station'}: snapshot, live values, alarm frames, alarm set`, async () => {
      const all = await wsAs('admin-watch');
      const c = await wsAs(user);
      try {
        expect(devicesOf(c.frames, 'snapshot')).toEqual(one ? ['usc-a1'] : ['usc-a1', 'usc-b1']);
        // live values of both stations; the unscoped watcher sees both arrive
        await feedA.publish([{ device: 'usc-a1', ts: stamp(), v: { temp: 91 } }]);
        await feedB.publish([{ device: 'usc-b1', ts: stamp(), v: { temp: 91 } }]);
        await eventually(() => devicesOf(all.frames, 'readings').length === 2, 10_000, 'both live values at the watcher');
        await eventually(() => devicesOf(c.frames, 'readings').includes('usc-a1'), 10_000, 'station A live value');
        // alarm frames: an operator comment on each station's alarm
        for (const id of [ALARM_B, ALARM_A]) {
          const r = await ts.fetch(`/api/alarms/${encodeURIComponent(id)}/comment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ comment: 'ws matrix' }) });
          expect(r.status).toBe(200);
        }
        const alarmIds = (x: RecordingClient) => x.frames.filter((f) => f.type === 'alarm').map((f) => f.alarm.alarmId);
        await eventually(() => alarmIds(all).includes(ALARM_A) && alarmIds(all).includes(ALARM_B), 10_000, 'both alarm frames at the watcher');
        await eventually(() => alarmIds(c).includes(ALARM_A), 10_000, 'station A alarm frame');
        expect(devicesOf(c.frames, 'readings')).toEqual(one ? ['usc-a1'] : ['usc-a1', 'usc-b1']);
        expect(alarmIds(c).includes(ALARM_B)).toBe(!one);
        // the alarm set on request, with what was missed since the start
        c.ws.send(JSON.stringify({ type: 'alarms', since: 0 }));
        const set = await c.next((f) => f.type === 'alarms');
        expect(set.alarms.map((a: { alarmId: string }) => a.alarmId).sort()).toEqual(one ? [ALARM_A] : [ALARM_A, ALARM_B]);
        if (set.missed) expect(set.missed.some((e: { alarmId?: string }) => e.alarmId === ALARM_B)).toBe(!one);
      } finally {
        await c.close();
        await all.close();
      }
    });
  }

  it('a scoped client that subscribes to another station gets nothing of it', async () => {
    const c = await wsAs('usc-viewer-one');
    try {
      for (const sub of [{ sites: [B] }, { rooms: ['rb'] }, { devices: ['usc-b1'] }, { sites: [A, B] }] as Array<Record<string, string[]>>) {
        const seesA = !!sub.sites?.includes(A);
        // devices narrow the values only; the alarm set follows sites and rooms (none named: all of the user's)
        const alarmsOfA = seesA || (!sub.sites && !sub.rooms);
        const n = c.frames.length;
        c.ws.send(JSON.stringify({ type: 'subscribe', ...sub }));
        const snap = await c.next((f) => f.type === 'snapshot' && c.frames.indexOf(f) >= n);
        expect(devicesOf([snap], 'snapshot'), JSON.stringify(sub)).toEqual(seesA ? ['usc-a1'] : []);
        c.ws.send(JSON.stringify({ type: 'alarms', since: 0 }));
        const set = await c.next((f) => f.type === 'alarms' && c.frames.indexOf(f) >= n);
        expect(set.alarms.map((a: { alarmId: string }) => a.alarmId), JSON.stringify(sub)).toEqual(alarmsOfA ? [ALARM_A] : []);
        if (set.missed) expect(set.missed.filter((e: { alarmId?: string }) => e.alarmId === ALARM_B)).toEqual([]);
      }
      const n = c.frames.length;
      await feedB.publish([{ device: 'usc-b1', ts: stamp(), v: { temp: 92 } }]);
      await ts.fetch(`/api/alarms/${encodeURIComponent(ALARM_B)}/comment`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ comment: 'unseen' }) });
      await new Promise((r) => setTimeout(r, 1000));
      expect(c.frames.slice(n).filter((f) => f.type === 'alarm' || f.type === 'readings')).toEqual([]);
    } finally {
      await c.close();
    }
  });
});

/**
 * Every route × role × scope, last: the actions change the alarms' states.
 * `min`: the least role; `all`: needs a user of every station; `b`: the
 * route names station B's alarm (404 for a user of station A only);
 * `ok`: what a permitted user gets.
 */
const enc = encodeURIComponent;
const ROUTES: Array<{ method: string; url: string; min: Role; all?: boolean; b?: boolean; body?: unknown; ok: number[] }> = [
  { method: 'GET', url: '/api/me', min: 'viewer', ok: [200] },
  { method: 'GET', url: '/api/quantities', min: 'viewer', ok: [200] },
  { method: 'GET', url: '/api/topology', min: 'viewer', ok: [200] },
  { method: 'GET', url: '/api/latest', min: 'viewer', ok: [200] },
  { method: 'GET', url: '/api/health', min: 'viewer', ok: [200] },
  { method: 'GET', url: '/api/history?device=usc-b1&quantity=temp&from=0', min: 'viewer', b: true, ok: [200] },
  { method: 'GET', url: '/api/alarms', min: 'viewer', ok: [200] },
  { method: 'GET', url: '/api/alarm-events', min: 'viewer', ok: [200] },
  { method: 'GET', url: '/api/alarm-health', min: 'viewer', ok: [200] },
  { method: 'GET', url: '/api/alarm-rules', min: 'viewer', ok: [200] },
  { method: 'GET', url: '/api/alarm-rules/usc-hot', min: 'viewer', ok: [200] },
  { method: 'GET', url: '/metrics', min: 'viewer', all: true, ok: [200] },
  { method: 'POST', url: '/api/me/password', min: 'viewer', body: { currentPassword: 'not-it', newPassword: 'long-enough-1' }, ok: [403] },
  ...(['', '/history'] as const).flatMap((p) => [
    { method: 'GET', url: `/api/alarms/${enc(ALARM_A)}${p}`, min: 'viewer' as Role, ok: [200] },
    { method: 'GET', url: `/api/alarms/${enc(ALARM_B)}${p}`, min: 'viewer' as Role, b: true, ok: [200] },
  ]),
  ...([
    ['acknowledge', 'operator', { comment: 'm' }],
    ['shelve', 'operator', { reason: 'm', forS: 60 }],
    ['unshelve', 'operator', {}],
    ['comment', 'operator', { comment: 'm' }],
    ['remove-from-service', 'admin', { reason: 'm' }],
    ['return-to-service', 'admin', {}],
  ] as const).flatMap(([action, min, body]) => [
    { method: 'POST', url: `/api/alarms/${enc(ALARM_A)}/${action}`, min: min as Role, body, ok: [200, 409] },
    { method: 'POST', url: `/api/alarms/${enc(ALARM_B)}/${action}`, min: min as Role, b: true, body, ok: [200, 409] },
  ]),
  { method: 'GET', url: '/api/users', min: 'admin', all: true, ok: [200] },
  { method: 'GET', url: '/api/users/usc-viewer-all', min: 'admin', all: true, ok: [200] },
  { method: 'POST', url: '/api/users', min: 'admin', all: true, body: { username: 'usc-viewer-all', password: 'long-enough-1', role: 'viewer' }, ok: [409] },
  { method: 'PATCH', url: '/api/users/usc-nobody', min: 'admin', all: true, body: { role: 'viewer' }, ok: [404] },
  { method: 'DELETE', url: '/api/users/usc-nobody', min: 'admin', all: true, ok: [404] },
  { method: 'PUT', url: '/api/users/usc-nobody/password', min: 'admin', all: true, body: { password: 'long-enough-1' }, ok: [404] },
  { method: 'GET', url: '/api/audit', min: 'admin', all: true, ok: [200] },
  { method: 'PUT', url: '/api/alarm-rules/usc-hot', min: 'admin', all: true, body: { kind: 'nonsense' }, ok: [400] },
  { method: 'PUT', url: '/api/alarm-rules', min: 'admin', all: true, body: { version: 'x' }, ok: [400] },
];
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

describe('every route × role × station scope', () => {
  for (const route of ROUTES)
    for (const { role, scope, user } of CASES) {
      const one = scope === 'one';
      const expected = RANK[role] < RANK[route.min] || (route.all && one) ? [403] : route.b && one ? [404] : route.ok;
      it(`${route.method} ${decodeURIComponent(route.url)} as ${role} of ${one ? 'station A' : 'every station'} → ${expected.join('/')}`, async () => {
        const r = await as(user, route.url, { method: route.method, ...(route.body !== undefined ? { body: route.body } : {}) });
        expect(expected, await r.clone().text()).toContain(r.status);
        if (r.status === 404 && route.b) expect((await json(r)).error.code).toMatch(/^GW_ERR_(ALARM_UNKNOWN|HTTP_NOT_FOUND)$/);
        if (r.status === 403 && expected[0] === 403 && route.ok[0] !== 403) expect((await json(r)).error.code).toBe('GW_ERR_AUTH_FORBIDDEN');
      });
    }
});
