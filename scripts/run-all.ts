/**
 * `npm start`: the whole system on one bare machine, on embedded defaults —
 * the server with its embedded MQTT broker and DuckDB store, one Modbus TCP
 * gateway simulator and one edge agent per demo room, the rooms' MQTT sensors
 * and an occasional scripted fault (config/demo/scenario.yaml), and the dashboard.
 * Ctrl-C (or SIGTERM) stops the server first, then every other part in
 * reverse order, and exits: stopped the other way round, the server saw the
 * demo's own agents go away and raised a loss-of-contact alarm for each room,
 * which the next start then showed.
 *
 * Reads: GW_HTTP_PORT (8080), GW_DATA_DIR (./data), GW_MQTT_EMBEDDED_PORT
 * (1883), GW_DEMO_MODBUS_BASE_PORT (15020), GW_LOG_LEVEL (info), and every
 * other GW_* variable the server reads (docs/configuration.md), e.g. GW_ADMIN_PASSWORD.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { createAgent, loadAgentConfig } from '../edge-agent/index.ts';
import { createServer, configFromEnv, loadServerConfig, loadTopologyFile, ConfigError } from '../server/index.ts';
import { startEmbeddedBroker } from '../server/embedded-broker.ts';
import {
  agentMappingFor,
  createMeterModel,
  loadScenario,
  startModbusSimulator,
  startRoomSensors,
  startTimeline,
  type MeterProfile,
  type ModbusSimulator,
} from '../simulators/index.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
// a person at a terminal gets readable lines; anything else (a pipe, a log collector) gets JSON
const log = pino({
  level: process.env.GW_LOG_LEVEL ?? 'info',
  ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } } : {}),
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

const topologyFile = path.join(root, 'config/demo/topology.yaml');
const scenarioFile = path.join(root, 'config/demo/scenario.yaml');
const stops: Array<{ what: string; stop: () => Promise<void> }> = [];

async function shutdown(code: number): Promise<never> {
  // the server first (the agents spool what they read meanwhile and send it at the next start), then the rest in reverse order
  const order = [...stops.filter((s) => s.what === 'server'), ...stops.filter((s) => s.what !== 'server').reverse()];
  for (const s of order) {
    await s.stop().catch((err) => log.warn({ err, what: s.what }, 'stop failed'));
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

/** A room's load follows its kind: homes, shops and offices, or an industrial feeder. */
const ROOM_PROFILE: Record<string, MeterProfile> = { 'r-101': 'residential', 'r-102': 'commercial', 'r-201': 'feeder' };

try {
  const topology = await loadTopologyFile(topologyFile);
  // the demo's defaults, and over them every GW_* variable the server reads (docs/configuration.md): GW_ADMIN_PASSWORD, which the
  // first start's message advises, GW_PRIORITY, GW_INFLUX_URL for a real store …; the topology stays the demo's
  const config = loadServerConfig({
    ...configFromEnv(process.env, {
      http: { port: env('GW_HTTP_PORT', 8080) },
      mqtt: { embedded: { port: env('GW_MQTT_EMBEDDED_PORT', 1883) } },
      dataDir: process.env.GW_DATA_DIR || path.join(root, 'data'),
    }),
    topologyFile,
    dashboardDir: path.join(root, 'dashboard/dist'),
  });
  const server = createServer(config, { log: log.child({ component: 'server' }), topology });
  await server.start();
  stops.push({ what: 'server', stop: () => server.stop() });

  // room sensors and the fault timeline; gateways are the rooms' simulators below
  const gatewayUnits: Record<string, number[]> = {};
  for (const site of topology.topology.sites)
    for (const room of site.rooms)
      gatewayUnits[room.id] = Array.from({ length: room.transformers.reduce((n, t) => n + (t.meter ? 1 : 0) + t.lines.filter((l) => l.meter).length, 0) }, (_, i) => i + 1);
  const scenario = loadScenario(parseYaml(await readFile(scenarioFile, 'utf8')), { gateways: gatewayUnits, brokerElsewhere: true });
  // the rooms' MQTT sensors publish to a local sensor broker, as in a real substation: the server's broker takes
  // provisioned agents only, on their own topics
  const sensorBroker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log: log.child({ component: 'sensor-broker' }) });
  stops.push({ what: 'sensor broker', stop: () => sensorBroker.stop() });
  const sensors = await startRoomSensors({ mqttUrl: sensorBroker.url, sensors: scenario.sensors });
  stops.push({ what: 'room sensors', stop: () => sensors.stop() });
  const gateways = new Map<string, ModbusSimulator>();

  let port = env('GW_DEMO_MODBUS_BASE_PORT', 15020);
  let seed = 1;
  for (const site of topology.topology.sites) {
    for (const room of site.rooms) {
      if (!room.agent) continue;
      const profile = ROOM_PROFILE[room.id] ?? 'residential';
      // one RS-485 gateway per room: the transformer meter is unit 1, line meters follow
      const meters: Array<{ id: string; ratedKw: number; profile: MeterProfile }> = [];
      for (const t of room.transformers) {
        if (t.meter) meters.push({ id: t.meter, ratedKw: t.ratedKva * 0.55, profile: 'feeder' });
        for (const l of t.lines) {
          // peak near 60 % of the line's rating: 3 × 220 V × I × pf
          if (l.meter) meters.push({ id: l.meter, ratedKw: ((3 * 220 * (l.ratedCurrentA ?? 200) * 0.95) / 1000) * 0.6, profile });
        }
      }
      const sim: ModbusSimulator = await startModbusSimulator({
        port: port++,
        units: meters.map((m, i) => ({ unitId: i + 1, model: createMeterModel({ profile: m.profile, seed: seed++, ratedKw: m.ratedKw }) })),
      });
      stops.push({ what: `simulator ${room.id}`, stop: () => sim.stop() });
      gateways.set(room.id, sim);
      const roomSensors = scenario.sensors.filter((x) => room.sensors.includes(x.id));
      log.info({ room: room.id, port: sim.port, meters: meters.length }, 'meter gateway simulator listening');
      // the agent's MQTT credentials: provisioned on the first start, a fresh password on every later one (shown to nobody)
      const known = server.mqttCredentials.get(room.agent);
      const { password } = known && !known.revoked ? await server.mqttCredentials.rotate(room.agent) : await server.mqttCredentials.provision(room.agent, site.id);
      const agentConfig = loadAgentConfig({
        agent: room.agent,
        site: site.id,
        mqtt: { url: server.mqttUrl, username: room.agent, password },
        publishIntervalMs: 1000,
        // store and forward: readings survive a server or agent restart
        spool: { dir: path.join(config.dataDir, 'spool', room.agent) },
        ...(roomSensors.length ? { room: { mqtt: { url: sensorBroker.url }, devices: roomSensors.map((x) => ({ id: x.id, topic: sensors.topicOf(x.id), staleAfterMs: Math.max(60_000, 3 * x.intervalMs), ...agentMappingFor(x.kind) })) } } : {}),
        devices: meters.map((m, i) => ({ id: m.id, profile: 'dtsu666', transport: { kind: 'tcp', host: sim.host, port: sim.port }, unitId: i + 1, intervalMs: 1000, timeoutMs: 800 })),
      });
      const agent = createAgent(agentConfig, { log: log.child({ component: 'edge-agent' }) });
      await agent.start();
      stops.push({ what: `agent ${room.agent}`, stop: () => agent.stop() });
    }
  }
  const timeline = startTimeline(scenario.timeline, { gateways, sensors, log: log.child({ component: 'scenario' }) });
  stops.push({ what: 'fault timeline', stop: async () => timeline.stop() });
  log.info({ url: `${server.url}/` }, `gridwatch is running — dashboard at ${server.url}/ (Ctrl-C stops everything)`);
  // the generated first admin password is never logged: say where it is until the admin has changed it
  const firstPassword = server.auth.initialPasswordFile;
  if (existsSync(firstPassword)) log.warn({ file: firstPassword }, `log in as "admin" with the password in ${firstPassword}; the file is removed once you change it`);
} catch (err) {
  if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  log.fatal({ err }, 'gridwatch failed to start');
  await shutdown(1);
}
