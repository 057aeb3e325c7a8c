/**
 * The embedded broker's trust boundary, on a real server (aedes, Fastify,
 * DuckDB): who may connect, publish and subscribe, judged by what is really
 * delivered; refusals counted and audited; revocation and rotation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentStateTopic, readingsTopic } from '../../contract/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { recorder, runPublishCases, runSubscribeCases, tryConnect, whoOf, type MatrixEnv } from './mqtt-matrix.ts';

let ts: TestServer;
let env: MatrixEnv;
let spy: Awaited<ReturnType<typeof recorder>>;

beforeAll(async () => {
  ts = await startTestServer({});
  const x = await ts.mqttAgent('sec-x', 'sec-s1');
  const y = await ts.mqttAgent('sec-y', 'sec-s2');
  const r = await ts.mqttAgent('sec-r', 'sec-s1');
  await ts.server.mqttCredentials.revoke('sec-r');
  env = {
    url: ts.server.mqttUrl,
    x: { agent: 'sec-x', site: 'sec-s1', password: x.password },
    y: { agent: 'sec-y', site: 'sec-s2', password: y.password },
    server: { ...ts.mqttServer(), spyUser: 'gridwatch-server-spy', probeUser: 'gridwatch-server-probe' },
    revoked: { agent: 'sec-r', password: r.password },
  };
  spy = await recorder(env.url, whoOf(env, 'spy'), 'gridwatch/v1/#');
}, 60_000);

afterAll(async () => {
  spy?.client.end(true);
  await ts?.close();
});

const refusals = async () => {
  const m = (await ts.server.metrics.registry.getSingleMetric('gridwatch_mqtt_refused_total')!.get()).values;
  return Object.fromEntries(m.map((v) => [`${v.labels.action}/${v.labels.reason}`, v.value]));
};

describe('embedded broker: connections', () => {
  it('refuses anonymous clients, wrong passwords, unknown users and revoked agents with the CONNACK code, counted and audited', async () => {
    expect((await tryConnect(env.url, { clientId: 'anon-1' })).result).toEqual({ ok: false, code: 5 });
    expect((await tryConnect(env.url, { username: 'sec-x', password: 'wrong-password', clientId: 'sec-x' })).result).toEqual({ ok: false, code: 4 });
    expect((await tryConnect(env.url, { username: 'nobody', password: env.x.password, clientId: 'nobody' })).result).toEqual({ ok: false, code: 4 });
    expect((await tryConnect(env.url, { username: 'sec-r', password: env.revoked.password, clientId: 'sec-r' })).result).toEqual({ ok: false, code: 5 });
    expect((await tryConnect(env.url, { username: env.server.username, password: 'not-the-secret', clientId: 'fake-server' })).result).toEqual({ ok: false, code: 4 });
    const r = await refusals();
    expect(r['connect/anonymous']).toBeGreaterThanOrEqual(1);
    expect(r['connect/bad_credentials']).toBeGreaterThanOrEqual(3);
    expect(r['connect/revoked']).toBeGreaterThanOrEqual(1);
    const audited = ts.server.audit.query({ kind: ['mqtt_auth_failed'] });
    expect(audited.map((e) => `${e.actor}:${e.detail}`)).toEqual(
      expect.arrayContaining([':anonymous', 'sec-x:bad_credentials', ':bad_credentials: unknown user "nobody"', 'sec-r:revoked', 'gridwatch-server:bad_credentials']),
    );
    expect(audited.every((e) => e.ip === '127.0.0.1')).toBe(true);
  });

  it('an agent connects only with its own id as client id: Y cannot take over X\'s session', async () => {
    const x = await tryConnect(env.url, { username: 'sec-x', password: env.x.password, clientId: 'sec-x' });
    expect(x.result.ok).toBe(true);
    let xClosed = false;
    x.client!.on('close', () => (xClosed = true));
    expect((await tryConnect(env.url, { username: 'sec-y', password: env.y.password, clientId: 'sec-x' })).result).toEqual({ ok: false, code: 2 });
    expect((await tryConnect(env.url, { username: 'sec-y', password: env.y.password, clientId: 'anything-else' })).result).toEqual({ ok: false, code: 2 });
    // the edge agent's default client id is accepted
    const dflt = await tryConnect(env.url, { username: 'sec-y', password: env.y.password, clientId: 'gridwatch-agent-sec-y' });
    expect(dflt.result.ok).toBe(true);
    dflt.client!.end(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(xClosed).toBe(false);
    expect(x.client!.connected).toBe(true);
    x.client!.end(true);
    expect((await refusals())['connect/client_id']).toBeGreaterThanOrEqual(2);
  });

  it('a last will on another agent\'s state topic is refused at CONNECT; the own will is published when the connection dies', async () => {
    const bad = await tryConnect(env.url, { username: 'sec-x', password: env.x.password, clientId: 'sec-x' }, { will: { topic: agentStateTopic('sec-y'), payload: Buffer.from('offline'), qos: 1, retain: false } });
    expect(bad.result).toEqual({ ok: false, code: 5 });
    expect((await refusals())['connect/will_topic']).toBe(1);
    const good = await tryConnect(env.url, { username: 'sec-x', password: env.x.password, clientId: 'sec-x' }, { will: { topic: agentStateTopic('sec-x'), payload: Buffer.from('will-x'), qos: 1, retain: false } });
    expect(good.result.ok).toBe(true);
    good.client!.stream.destroy();
    await expect.poll(() => spy.got.some((m) => m.topic === agentStateTopic('sec-x') && m.payload === 'will-x'), { timeout: 10_000 }).toBe(true);
    expect(spy.got.some((m) => m.topic === agentStateTopic('sec-y'))).toBe(false);
    good.client!.end(true);
  });
});

describe('embedded broker: the authorization matrix', () => {
  it('publishes: each identity reaches only its own topics (what the server\'s subscriber really receives)', async () => {
    const results = await runPublishCases(env, spy);
    for (const r of results) expect({ case: r.name, delivered: r.delivered }).toEqual({ case: r.name, delivered: r.allowed });
    const refusedPublishes = results.filter((r) => !r.allowed).length;
    expect((await refusals())['publish/topic_not_allowed']).toBe(refusedPublishes);
    const audited = ts.server.audit.query({ kind: ['mqtt_publish_refused'] });
    expect(audited.some((e) => e.actor === 'sec-x' && e.target === readingsTopic('sec-s1', 'sec-y'))).toBe(true);
  }, 120_000);

  it('subscribes: an agent gets its own watermark and the server state, nothing else (SUBACK 0x80)', async () => {
    const results = await runSubscribeCases(env);
    for (const r of results) {
      expect({ case: r.name, delivered: r.delivered }).toEqual({ case: r.name, delivered: r.allowed });
      expect({ case: r.name, granted: r.granted }).toEqual({ case: r.name, granted: r.allowed ? 1 : 128 });
    }
    expect((await refusals())['subscribe/topic_not_allowed']).toBe(results.filter((r) => !r.allowed).length);
    expect(ts.server.audit.query({ kind: ['mqtt_subscribe_refused'], actor: 'sec-x' }).map((e) => e.target)).toContain('#');
  }, 60_000);

  it('the refusal metric has only fixed labels, and made-up user names share one audit rate limit, whatever the clients send', async () => {
    const before = (await refusals())['connect/bad_credentials'] ?? 0;
    for (let i = 0; i < 30; i++) await tryConnect(env.url, { username: `junk-${i}-${'x'.repeat(50)}`, password: 'p', clientId: `junk-${i}` });
    expect((await refusals())['connect/bad_credentials']).toBe(before + 30);
    // written at most 20 times a minute per kind and actor: the made-up names are all actor ''
    expect(ts.server.audit.query({ kind: ['mqtt_auth_failed'] }).filter((e) => e.actor.startsWith('junk-') || e.detail?.includes('junk-')).length).toBeLessThanOrEqual(20);
    const reasons = new Set((await ts.server.metrics.registry.getSingleMetric('gridwatch_mqtt_refused_total')!.get()).values.map((v) => String(v.labels.reason)));
    for (const r of reasons) expect(['anonymous', 'bad_credentials', 'revoked', 'client_id', 'will_topic', 'cn_mismatch', 'topic_not_allowed']).toContain(r);
  });
});

describe('embedded broker: rotation and revocation', () => {
  it('revoking an agent (REST) cuts off its connected client at once and refuses it afterwards', async () => {
    const a = await ts.mqttAgent('sec-rv', 'sec-s1');
    const c = await tryConnect(env.url, a);
    expect(c.result.ok).toBe(true);
    const closed = new Promise<void>((r) => c.client!.once('close', () => r()));
    const res = await ts.fetch('/api/agents/sec-rv/revoke', { method: 'POST' });
    expect(res.status).toBe(200);
    expect((await res.json()).agent).toMatchObject({ agent: 'sec-rv', revoked: true });
    await closed;
    expect((await tryConnect(env.url, a)).result).toEqual({ ok: false, code: 5 });
    expect(ts.server.audit.query({ kind: ['agent_revoked'] })[0]).toMatchObject({ actor: 'admin', target: 'sec-rv' });
  });

  it('rotating (REST): the old password is refused, the new one accepted, a client on the old one is cut off', async () => {
    const a = await ts.mqttAgent('sec-rot', 'sec-s1');
    const c = await tryConnect(env.url, a);
    expect(c.result.ok).toBe(true);
    const closed = new Promise<void>((r) => c.client!.once('close', () => r()));
    const res = await ts.fetch('/api/agents/sec-rot/rotate', { method: 'POST' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { password: string; agent: { rotatedAt: number } };
    expect(body.agent.rotatedAt).toBeGreaterThan(0);
    expect(body.password).not.toBe(a.password);
    await closed;
    expect((await tryConnect(env.url, a)).result).toEqual({ ok: false, code: 4 });
    const fresh = await tryConnect(env.url, { ...a, password: body.password });
    expect(fresh.result.ok).toBe(true);
    fresh.client!.end(true);
  });

  it('a revocation that lands while the agent is connecting leaves it disconnected, whatever the timing', async () => {
    const left: string[] = [];
    for (let i = 0; i < 24; i++) {
      const a = await ts.mqttAgent(`sec-race-${i}`, 'sec-s1');
      const attempt = tryConnect(env.url, a);
      // from before the password check to after the CONNACK
      await new Promise((r) => setTimeout(r, i * 2));
      await ts.server.mqttCredentials.revoke(a.username);
      const { client } = await attempt;
      if (client) {
        await new Promise((r) => setTimeout(r, 200));
        if (client.connected) left.push(a.username);
        client.end(true);
      }
    }
    expect(left).toEqual([]);
  }, 60_000);

  it('a change the CLI makes to agents.json (another writer) is picked up by the running server', async () => {
    const { AgentCredentials } = await import('../../server/mqtt-credentials.ts');
    const cli = new AgentCredentials(ts.dataDir);
    await cli.start();
    const { password } = await cli.provision('sec-cli', 'sec-s1');
    const who = { username: 'sec-cli', password, clientId: 'sec-cli' };
    await expect.poll(async () => {
      const r = await tryConnect(env.url, who);
      r.client?.end(true);
      return r.result.ok;
    }, { timeout: 10_000, interval: 300 }).toBe(true);
    const c = await tryConnect(env.url, who);
    const closed = new Promise<void>((r) => c.client!.once('close', () => r()));
    await cli.revoke('sec-cli');
    await closed;
    expect((await tryConnect(env.url, who)).result).toEqual({ ok: false, code: 5 });
  });
});

describe('admin API /api/agents', () => {
  it('lists without secrets, provisions once, refuses bad input with clear errors, admins only', async () => {
    const created = await ts.fetch('/api/agents', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent: 'sec-api', site: 'sec-s1' }) });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { password: string; agent: Record<string, unknown> };
    expect(body.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const again = await ts.fetch('/api/agents', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ agent: 'sec-api', site: 'sec-s1' }) });
    expect(again.status).toBe(409);
    expect((await again.json()).error.code).toBe('GW_ERR_AGENT_EXISTS');
    for (const [b, code] of [
      [{ agent: 'a/b', site: 's' }, 'GW_ERR_AGENT_INVALID'],
      [{ agent: 'gridwatch-x', site: 's' }, 'GW_ERR_AGENT_INVALID'],
      [{ agent: 'ok-agent', site: 'agent' }, 'GW_ERR_AGENT_INVALID'],
      [{ agent: 'ok-agent' }, 'GW_ERR_AGENT_INVALID'],
      [{ agent: 'ok-agent', site: 's', extra: 1 }, 'GW_ERR_HTTP_BAD_REQUEST'],
    ] as const) {
      const r = await ts.fetch('/api/agents', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
      expect(r.status, JSON.stringify(b)).toBe(400);
      expect((await r.json()).error.code).toBe(code);
    }
    expect((await ts.fetch('/api/agents/none/rotate', { method: 'POST' })).status).toBe(404);
    const list = await (await ts.fetch('/api/agents')).text();
    expect(list).toContain('"sec-api"');
    expect(list).not.toMatch(/passwordHash|\$7\$/);
    expect((await ts.fetch('/api/agents', { role: 'operator' })).status).toBe(403);
    // an admin of some stations only manages no agent credentials
    await ts.server.auth.putUser('sec-site-admin', 'site-admin-password', 'admin', ['sec-s1']);
    const { login } = await import('../support/server.ts');
    const scoped = await login(ts.server.url, 'sec-site-admin', 'site-admin-password');
    expect((await fetch(`${ts.server.url}/api/agents`, { headers: { cookie: scoped } })).status).toBe(403);
    expect((await fetch(`${ts.server.url}/api/agents/sec-api/revoke`, { method: 'POST', headers: { cookie: scoped } })).status).toBe(403);
    expect((await fetch(`${ts.server.url}/api/agents`)).status).toBe(401);
    expect(ts.server.audit.query({ kind: ['agent_provisioned'] }).some((e) => e.target === 'sec-api' && e.actor === 'admin')).toBe(true);
  });
});

