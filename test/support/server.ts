/** Starts a real gridwatch server for a test: Fastify on port 0, the given broker and store. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createServer, loadServerConfig, topologyFromYaml, type GridwatchServer } from '../../server/index.ts';
import { testLog } from './logger.ts';

export interface TestServer {
  server: GridwatchServer;
  dataDir: string;
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export async function startTestServer(opts: {
  mqttUrl?: string;
  influxUrl?: string;
  database?: string;
  dataDir?: string;
  topologyYaml?: string;
  extra?: Record<string, unknown>;
}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'gw-server-')));
  const config = loadServerConfig({
    http: { host: '127.0.0.1', port: 0 },
    mqtt: opts.mqttUrl ? { url: opts.mqttUrl } : { embedded: { host: '127.0.0.1', port: 0 } },
    ...(opts.influxUrl ? { influx: { url: opts.influxUrl, database: opts.database ?? `gw_${process.pid}_${Date.now()}` } } : {}),
    dataDir,
    ingest: { flushIntervalMs: 20 },
    live: { maxFps: 20 },
    ...opts.extra,
  });
  const topology = opts.topologyYaml ? topologyFromYaml(opts.topologyYaml) : undefined;
  const server = createServer(config, { log: testLog, ...(topology ? { topology } : {}) });
  await server.start();
  return {
    server,
    dataDir,
    async close(o = {}) {
      await server.stop();
      if (!o.keepData && !opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
