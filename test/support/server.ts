/** Starts a real gridwatch server for a test: Fastify on port 0, the given broker and store. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createServer, loadServerConfig, topologyFromYaml, type GridwatchServer } from '../../server/index.ts';
import type { Logger } from 'pino';
import { testLog } from './logger.ts';

export type TestRole = 'viewer' | 'operator' | 'admin';
export const TEST_PASSWORD = 'test-password-1';

export interface TestServer {
  server: GridwatchServer;
  dataDir: string;
  /** `gw_session=…` cookie header of a logged-in user of that role */
  cookie(role?: TestRole): Promise<string>;
  /** fetch against the server as that role (admin by default) */
  fetch(url: string, init?: RequestInit & { role?: TestRole }): Promise<Response>;
  /** ws://…/ws */
  wsUrl: string;
  /**
   * Provisions an MQTT agent on this server (the embedded broker refuses
   * clients without credentials) and returns mqtt.js options for it: user
   * name, its one-time password, client id = the agent id.
   */
  mqttAgent(agent: string, site: string): Promise<{ username: string; password: string; clientId: string }>;
  /** the server's own MQTT user name and secret (reads everything, publishes watermarks and server presence) */
  mqttServer(): { username: string; password: string };
  close(opts?: { keepData?: boolean }): Promise<void>;
}

/** Logs in over HTTP and returns the session cookie. */
export async function login(base: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (!res.ok) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
  const set = res.headers.get('set-cookie') ?? '';
  return set.split(';')[0]!;
}

let serial = 0;

function topologySites(yaml: string | undefined): string[] {
  if (!yaml) throw new Error('a test server on the shared broker needs `sites` or a topology: it would ingest every other test\'s readings');
  return topologyFromYaml(yaml).topology.sites.map((s) => s.id);
}

export async function startTestServer(opts: {
  mqttUrl?: string;
  influxUrl?: string;
  database?: string;
  dataDir?: string;
  topologyYaml?: string;
  /** sites this server serves: tests share one broker, each listens to its own sites only */
  sites?: string[];
  /** MQTT shared-subscription group (`$share/<group>/…`) */
  sharedGroup?: string;
  extra?: Record<string, unknown>;
  /** the server's logger (default: silent unless GW_TEST_LOG is set) */
  log?: Logger;
}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'gw-server-')));
  const config = loadServerConfig({
    http: { host: '127.0.0.1', port: 0 },
    // each test server is its own MQTT session
    mqtt: opts.mqttUrl
      ? {
          url: opts.mqttUrl,
          clientId: `gw-test-${process.pid}-${++serial}`,
          sites: opts.sites ?? topologySites(opts.topologyYaml),
          ...(opts.sharedGroup ? { sharedGroup: opts.sharedGroup } : {}),
        }
      : { embedded: { host: '127.0.0.1', port: 0 } },
    ...(opts.influxUrl ? { influx: { url: opts.influxUrl, database: opts.database ?? `gw_${process.pid}_${Date.now()}` } } : {}),
    dataDir,
    auth: { adminPassword: TEST_PASSWORD },
    ingest: { flushIntervalMs: 20 },
    live: { maxFps: 20 },
    // the event-loop thread keeps its priority: many test servers share one test process (test/server/priority.test.ts sets one)
    priority: os.getPriority(),
    ...opts.extra,
  });
  const topology = opts.topologyYaml ? topologyFromYaml(opts.topologyYaml) : undefined;
  const server = createServer(config, { log: opts.log ?? testLog, ...(topology ? { topology } : {}) });
  await server.start();
  for (const role of ['viewer', 'operator'] as const) await server.auth.putUser(role, TEST_PASSWORD, role);
  const cookies = new Map<TestRole, string>();
  const cookie = async (role: TestRole = 'admin') => {
    let c = cookies.get(role);
    if (!c) cookies.set(role, (c = await login(server.url, role, TEST_PASSWORD)));
    return c;
  };
  return {
    server,
    dataDir,
    cookie,
    wsUrl: `${server.url.replace(/^http/, 'ws')}/ws`,
    async mqttAgent(agent, site) {
      const { password } = await server.mqttCredentials.provision(agent, site);
      return { username: agent, password, clientId: agent };
    },
    mqttServer: () => server.mqttCredentials.serverCredentials(),
    async fetch(url, init = {}) {
      const { role, ...rest } = init;
      const headers = new Headers(rest.headers);
      headers.set('cookie', await cookie(role));
      return fetch(url.startsWith('http') ? url : server.url + url, { ...rest, headers });
    },
    async close(o = {}) {
      await server.stop();
      if (!o.keepData && !opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
