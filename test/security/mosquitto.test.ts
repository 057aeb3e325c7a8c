/**
 * The same trust boundary on a real Mosquitto 2 started with the shipped
 * config's authentication lines (config/compose/mosquitto.conf) and the
 * password and ACL files our code writes: the authorization matrix judged by
 * delivery, our `$7$` hashes accepted and `mosquitto_passwd`'s read, a
 * revocation taking effect on SIGHUP, and a real server ingesting through it
 * with its own identity (shared subscription, watermarks, presence).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readingsTopic, watermarkTopic } from '../../contract/index.ts';
import { AgentCredentials, verifyMqttPassword } from '../../server/mqtt-credentials.ts';
import { writeMosquittoFiles } from '../../server/mosquitto-files.ts';
import { findBinary, freePort } from '../harness/index.ts';
import { startTestServer } from '../support/server.ts';
import { recorder, runPublishCases, runSubscribeCases, tryConnect, whoOf, type MatrixEnv } from './mqtt-matrix.ts';

const AUTH_KEYS = /^(allow_anonymous|password_file|acl_file|use_username_as_clientid)\s/;

let dir = '';
let authDir = '';
let creds: AgentCredentials;
let child: ChildProcess | null = null;
let log = '';
let env: MatrixEnv;
let spy: Awaited<ReturnType<typeof recorder>>;

/** The shipped config's authentication lines, with the file paths pointing at our temp dir. */
async function shippedAuthLines(): Promise<string[]> {
  const lines = (await readFile('config/compose/mosquitto.conf', 'utf8')).split('\n').filter((l) => AUTH_KEYS.test(l));
  expect(lines).toEqual(expect.arrayContaining(['allow_anonymous false', 'use_username_as_clientid true']));
  expect(lines.filter((l) => /^(password_file|acl_file) /.test(l))).toHaveLength(2);
  return lines.map((l) => l.replace(/^password_file .*/, `password_file ${authDir}/passwd`).replace(/^acl_file .*/, `acl_file ${authDir}/acl`));
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}:\n${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-mosq-auth-'));
  authDir = path.join(dir, 'auth');
  creds = new AgentCredentials(dir);
  await creds.start();
  const x = await creds.provision('mq-x', 'mq-s1');
  const y = await creds.provision('mq-y', 'mq-s2');
  const r = await creds.provision('mq-r', 'mq-s1');
  await creds.revoke('mq-r');
  // the server's user and two more server user names (spy, probe): Mosquitto makes the user name the client id
  await writeMosquittoFiles(creds, authDir, { serverUsers: 3 });
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    [`listener ${port} 127.0.0.1`, ...(await shippedAuthLines()), ...(process.getuid?.() === 0 ? ['user root'] : []), 'persistence false', 'log_dest stderr', ''].join('\n'),
  );
  child = spawn(findBinary('mosquitto')!, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitFor(() => /mosquitto version \S+ running/.test(log), 15_000, 'mosquitto did not start');
  env = {
    url: `mqtt://127.0.0.1:${port}`,
    x: { agent: 'mq-x', site: 'mq-s1', password: x.password },
    y: { agent: 'mq-y', site: 'mq-s2', password: y.password },
    server: { ...creds.serverCredentials(), spyUser: 'gridwatch-server-2', probeUser: 'gridwatch-server-3' },
    revoked: { agent: 'mq-r', password: r.password },
  };
  spy = await recorder(env.url, whoOf(env, 'spy'), 'gridwatch/v1/#');
}, 60_000);

afterAll(async () => {
  spy?.client.end(true);
  if (child?.pid && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Mosquitto with the shipped authentication settings and our files', () => {
  it('takes our $7$ hashes; refuses anonymous clients, wrong passwords and revoked agents', async () => {
    const ok = await tryConnect(env.url, { username: 'mq-x', password: env.x.password, clientId: 'mq-x' });
    expect(ok.result.ok).toBe(true);
    ok.client!.end(true);
    expect((await tryConnect(env.url, { clientId: 'anon' })).result.ok).toBe(false);
    expect((await tryConnect(env.url, { username: 'mq-x', password: 'wrong', clientId: 'mq-x' })).result.ok).toBe(false);
    expect((await tryConnect(env.url, { username: 'mq-r', password: env.revoked.password, clientId: 'mq-r' })).result.ok).toBe(false);
  });

  it('reads what mosquitto_passwd writes (same format both ways)', async () => {
    const file = path.join(dir, 'pw-check');
    await promisify(execFile)(findBinary('mosquitto_passwd')!, ['-c', '-b', file, 'someone', 'their-password']);
    const hash = (await readFile(file, 'utf8')).trim().split(':')[1]!;
    expect(hash).toMatch(/^\$7\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyMqttPassword('their-password', hash)).toBe(true);
    expect(await verifyMqttPassword('not-their-password', hash)).toBe(false);
  });

  it('Y connecting with X\'s client id does not cut X off (the client id is the user name)', async () => {
    const x = await tryConnect(env.url, { username: 'mq-x', password: env.x.password, clientId: 'mq-x' });
    let closed = false;
    x.client!.on('close', () => (closed = true));
    const y = await tryConnect(env.url, { username: 'mq-y', password: env.y.password, clientId: 'mq-x' });
    await new Promise((r) => setTimeout(r, 500));
    expect(closed).toBe(false);
    // and X still gets through
    const payload = `still-${Date.now()}`;
    await x.client!.publishAsync(readingsTopic('mq-s1', 'mq-x'), payload, { qos: 1 });
    await expect.poll(() => spy.got.some((m) => m.payload === payload), { timeout: 5_000 }).toBe(true);
    y.client?.end(true);
    x.client!.end(true);
  });

  it('publishes: the same matrix as the embedded broker, by delivery', async () => {
    const results = await runPublishCases(env, spy);
    for (const r of results) expect({ case: r.name, delivered: r.delivered }).toEqual({ case: r.name, delivered: r.allowed });
  }, 120_000);

  it('subscribes: an agent gets its own watermark and the server state, nothing else', async () => {
    const results = await runSubscribeCases(env);
    for (const r of results) expect({ case: r.name, delivered: r.delivered }).toEqual({ case: r.name, delivered: r.allowed });
  }, 60_000);

  it('a last will on another agent\'s state topic is never delivered', async () => {
    const bad = await tryConnect(env.url, { username: 'mq-x', password: env.x.password, clientId: 'mq-x' }, { will: { topic: 'gridwatch/v1/agent/mq-y/state', payload: Buffer.from('forged-offline'), qos: 1, retain: false } });
    bad.client?.stream.destroy();
    await new Promise((r) => setTimeout(r, 1_000));
    expect(spy.got.some((m) => m.payload === 'forged-offline')).toBe(false);
  });

  it('revoking and writing the files again: after SIGHUP the agent is refused and what it still sends is not delivered', async () => {
    const v = await creds.provision('mq-v', 'mq-s1');
    await writeMosquittoFiles(creds, authDir, { serverUsers: 3 });
    child!.kill('SIGHUP');
    const who = { username: 'mq-v', password: v.password, clientId: 'mq-v' };
    await expect.poll(async () => {
      const r = await tryConnect(env.url, who);
      r.client?.end(true);
      return r.result.ok;
    }, { timeout: 10_000, interval: 300 }).toBe(true);
    const connected = await tryConnect(env.url, who);
    expect(connected.result.ok).toBe(true);
    await creds.revoke('mq-v');
    await writeMosquittoFiles(creds, authDir, { serverUsers: 3 });
    child!.kill('SIGHUP');
    await expect.poll(async () => {
      const r = await tryConnect(env.url, who);
      r.client?.end(true);
      return r.result.ok;
    }, { timeout: 10_000, interval: 300 }).toBe(false);
    const payload = `after-revoke-${Date.now()}`;
    if (connected.client!.connected) await connected.client!.publishAsync(readingsTopic('mq-s1', 'mq-v'), payload, { qos: 1 }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 800));
    expect(spy.got.some((m) => m.payload === payload)).toBe(false);
    connected.client!.end(true);
  });

  it('a real server ingests through it as gridwatch-server (secret from its data dir, shared subscription), and the agent gets its watermark', async () => {
    const ts = await startTestServer({
      mqttUrl: env.url,
      dataDir: dir,
      sites: ['mq-s1'],
      extra: { mqtt: { url: env.url, clientId: 'gridwatch-server', username: 'gridwatch-server', sites: ['mq-s1'], sharedGroup: 'mqg', mosquittoFilesDir: authDir, mosquittoServerUsers: 3 } },
    });
    try {
      const agent = await recorder(env.url, { username: 'mq-x', password: env.x.password, clientId: 'mq-x' }, watermarkTopic('mq-x'));
      const msg = { agent: 'mq-x', readings: [{ device: 'mq-m1', ts: Date.now(), seq: 0, q: 'good', v: { ua: 231.5 } }] };
      await agent.client.publishAsync(readingsTopic('mq-s1', 'mq-x'), JSON.stringify(msg), { qos: 1 });
      await expect.poll(() => ts.server.ingest.watermark('mq-x') ?? -1, { timeout: 15_000 }).toBeGreaterThanOrEqual(0);
      await expect.poll(() => agent.got.length, { timeout: 15_000 }).toBeGreaterThan(0);
      expect(JSON.parse(agent.got.at(-1)!.payload)).toMatchObject({ agent: 'mq-x' });
      agent.client.end(true);
    } finally {
      await ts.close({ keepData: true });
    }
  }, 60_000);
});
