/**
 * `npm start`: the whole system on one bare machine, on embedded defaults —
 * the server with its embedded MQTT broker and DuckDB store, a generated
 * county grid (scripts/demo-grid.ts: written to <data dir>/demo-topology.yaml)
 * with one Modbus TCP gateway simulator, a DL/T 645 TCP gateway simulator
 * where needed and one edge agent per room (scripts/demo-parts.ts), the rooms'
 * MQTT sensors, the storyline (config/demo/storyline.yaml) with its planned
 * outages and repair calls for the outage pool (scripts/demo-pool.ts), the
 * demo's rules (config/demo/rules.yaml), an SMS gateway on loopback
 * (simulators/sms-gateway.ts) that takes the notices and posts signed
 * delivery receipts back, and the dashboard.
 * Ctrl-C (or SIGTERM) stops the server first, then every other part in
 * reverse order, and exits: stopped the other way round, the server saw the
 * demo's own agents go away and raised a loss-of-contact alarm for each room,
 * which the next start then showed.
 *
 * Reads: GW_HTTP_PORT (8080), GW_DATA_DIR (./data), GW_MQTT_EMBEDDED_PORT
 * (1883), GW_DEMO_MODBUS_BASE_PORT (15020; 0: any free ports), GW_DEMO_SEED (1),
 * GW_DEMO_ROOMS (all | storyline | N), GW_DEMO_STORYLINE (a storyline file), GW_DEMO_DASHBOARD_DIR,
 * GW_LOG_LEVEL (info), and every other GW_* variable the server reads
 * (docs/configuration.md), e.g. GW_ADMIN_PASSWORD, GW_RULES_FILE.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { createServer, configFromEnv, loadServerConfig, loadTopologyFile, ConfigError } from '../server/index.ts';
import { SimulatorError } from '../simulators/index.ts';
import { TestSmsGateway } from '../simulators/sms-gateway.ts';
import { demoGridCounts, demoTopologyYaml, generateDemoGrid, subsetDemoGrid, type DemoRoom } from './demo-grid.ts';
import { prepareDemoParts, type Stoppable } from './demo-parts.ts';
import { startPoolStoryline } from './demo-pool.ts';
import { StorylineSchema, storylineRooms, storylineScenario } from './demo-storyline.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
// a person at a terminal gets readable lines; anything else (a pipe, a log collector) gets JSON
const log = pino({
  level: process.env.GW_LOG_LEVEL ?? 'info',
  ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: true } } } : {}),
});
const env = (name: string, fallback: number): number => {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    log.fatal({ variable: name, value: raw }, 'not a port number');
    process.exit(2);
  }
  return n;
};

const storylineFile = process.env.GW_DEMO_STORYLINE || path.join(root, 'config/demo/storyline.yaml');
const stops: Stoppable[] = [];

async function shutdown(code: number): Promise<never> {
  // the server first (the agents spool what they read meanwhile and send it at the next start), then the rest in reverse order;
  // again for parts that registered meanwhile (an agent whose start was still under way when the signal came)
  const done = new Set<Stoppable>();
  for (let left = stops; left.length; left = stops.filter((s) => !done.has(s))) {
    const order = [...left.filter((s) => s.what === 'server'), ...left.filter((s) => s.what !== 'server').reverse()];
    for (const s of order) {
      done.add(s);
      await s.stop().catch((err) => log.warn({ err, what: s.what }, 'stop failed'));
    }
  }
  log.info('all parts stopped');
  // the log is written asynchronously: lines still being written when exit() flushes the rest would land after it
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  process.exit(code);
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping gridwatch');
    void shutdown(0);
  });
}

/** GW_DEMO_ROOMS: `all` (default), `storyline` (only the rooms the storyline names), or a number (the first N rooms and the storyline's) */
function roomFilter(raw: string | undefined, wanted: Set<string>): (room: DemoRoom, index: number) => boolean {
  if (raw === undefined || raw === '' || raw === 'all') return () => true;
  if (raw === 'storyline') return (r) => wanted.has(r.id);
  const n = Number(raw);
  if (Number.isInteger(n) && n >= 0) return (r, i) => i < n || wanted.has(r.id);
  log.fatal({ variable: 'GW_DEMO_ROOMS', value: raw }, 'expected all, storyline or a number of rooms');
  process.exit(2);
}

try {
  const seed = Number(process.env.GW_DEMO_SEED || 1);
  if (!Number.isInteger(seed)) {
    log.fatal({ variable: 'GW_DEMO_SEED', value: process.env.GW_DEMO_SEED }, 'not a whole number');
    process.exit(2);
  }
  const full = generateDemoGrid({ seed });
  const storyline = parseYaml(await readFile(storylineFile, 'utf8')) as unknown;
  const wanted = storylineRooms(StorylineSchema.parse(storyline), full);
  const keep = roomFilter(process.env.GW_DEMO_ROOMS, wanted);
  const index = new Map(full.rooms.map((r, i) => [r.id, i]));
  const grid = subsetDemoGrid(full, (r) => keep(r, index.get(r.id)!));
  const scenario = storylineScenario(storyline, grid);
  const dataDir = process.env.GW_DATA_DIR || path.join(root, 'data');
  await mkdir(dataDir, { recursive: true });
  // the generated topology is written where the server reads it; the hand-written config/demo/topology.yaml stays a small example
  const topologyFile = path.join(dataDir, 'demo-topology.yaml');
  await writeFile(topologyFile, demoTopologyYaml(grid));
  log.info({ seed, ...demoGridCounts(grid), topologyFile }, 'demo grid generated');
  const topology = await loadTopologyFile(topologyFile);
  // customer notices go to an SMS gateway of ours on loopback (GW_NOTIFY_GATEWAY_URL names a real one instead)
  const smsSecret = randomBytes(24).toString('hex');
  const sms = new TestSmsGateway({ secret: smsSecret, seed });
  await sms.start();
  stops.push({ what: 'sms-gateway', stop: () => sms.stop() });
  // the demo's defaults, and over them every GW_* variable the server reads (docs/configuration.md): GW_ADMIN_PASSWORD, which the
  // first start's message advises, GW_PRIORITY, GW_INFLUX_URL for a real store, GW_RULES_FILE …; the topology stays the demo's
  const config = loadServerConfig({
    ...configFromEnv(process.env, {
      http: { port: env('GW_HTTP_PORT', 8080) },
      mqtt: { embedded: { port: env('GW_MQTT_EMBEDDED_PORT', 1883) } },
      rules: { file: path.join(root, 'config/demo/rules.yaml') },
      // the demo's risk model: today only, recomputed every minute (docs/demo.md)
      risk: { file: path.join(root, 'config/demo/risk.yaml') },
      notify: { gateway: { url: sms.url, account: 'gridwatch-demo', secret: smsSecret } },
      dataDir,
    }),
    topologyFile,
    // GW_DEMO_DASHBOARD_DIR: another build of the dashboard (the tests build their own)
    dashboardDir: process.env.GW_DEMO_DASHBOARD_DIR || path.join(root, 'dashboard/dist'),
  });
  const parts = await prepareDemoParts({ grid, scenario, dataDir: config.dataDir, log, basePort: env('GW_DEMO_MODBUS_BASE_PORT', 15020) }, stops);
  const server = createServer(config, { log: log.child({ component: 'server' }), topology });
  await server.start();
  stops.push({ what: 'server', stop: () => server.stop() });
  sms.receiptUrl = `${server.url}/api/notify/receipts`;
  sms.replyUrl = `${server.url}/api/notify/replies`;
  await parts.startAgents(server);
  // the storyline's planned outages and repair calls, timed with its meter events
  const stopPool = startPoolStoryline(StorylineSchema.parse(storyline), grid, server, log.child({ component: 'demo' }));
  stops.push({ what: 'demo-pool', stop: async () => stopPool() });
  log.info({ url: `${server.url}/` }, `gridwatch is running — dashboard at ${server.url}/ (Ctrl-C stops everything)`);
  // the generated first admin password is never logged: say where it is until the admin has changed it
  const firstPassword = server.auth.initialPasswordFile;
  if (existsSync(firstPassword)) log.warn({ file: firstPassword }, `log in as "admin" with the password in ${firstPassword}; the file is removed once you change it`);
} catch (err) {
  if (err instanceof ConfigError || err instanceof SimulatorError) process.stderr.write(`${err.message}\n`);
  log.fatal({ err }, 'gridwatch failed to start');
  await shutdown(1);
}
