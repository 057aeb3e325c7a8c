/**
 * The system the dashboard tests run against: a real server (embedded broker
 * and DuckDB store), a Modbus gateway simulator with six meters, one edge
 * agent per room polling them, and an MQTT-native room sensor published
 * straight to the broker (door, water, smoke, humidity, temperatures).
 */
import { rm } from 'node:fs/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { readingsTopic } from '../../contract/index.ts';
import { createAgent, loadAgentConfig } from '../../edge-agent/index.ts';
import { createMeterModel, startModbusSimulator, type MeterProfile, type ModbusSimulator } from '../../simulators/index.ts';
import { buildDashboard } from '../support/browser.ts';
import { testLog } from '../support/logger.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

export const TOPOLOGY = `
sites:
  - id: b-east
    name: 城东供电所
    rooms:
      - id: r1
        name: 锦绣花园配电房
        agent: b-agent1
        agents: [b-env, b-history]
        transformers:
          - id: t1
            name: 1#配变
            ratedKva: 630
            meter: b-m1
            lines:
              - { id: l1, name: 1号楼出线, ratedCurrentA: 250, meter: b-m2 }
              - { id: l2, name: 2号楼出线, ratedCurrentA: 250, meter: b-m3 }
              - { id: l3, name: 商铺出线, ratedCurrentA: 63, meter: b-m4 }
        sensors: [b-env1]
  - id: b-west
    name: 城西供电所
    rooms:
      - id: r2
        name: 开发区10kV开闭所
        agent: b-agent2
        agents: [b-history]
        transformers:
          - id: t2
            name: 1#配变
            ratedKva: 800
            meter: b-m5
            lines:
              - { id: l4, name: 工业园一线, ratedCurrentA: 400, meter: b-m6 }
              - { id: l5, name: 工业园二线, ratedCurrentA: 400 }
`;

/** device → simulator unit id */
export const UNIT = { 'b-m1': 1, 'b-m2': 2, 'b-m3': 3, 'b-m4': 4, 'b-m5': 5, 'b-m6': 6 } as const;

const PROFILE = (unitId: number): MeterProfile => (unitId === 1 || unitId === 5 ? 'feeder' : unitId === 6 ? 'commercial' : 'residential');

/** The meter quantities of the wire contract (the model also has per-phase Q and PF, which the contract does not carry). */
const WIRE = ['ua', 'ub', 'uc', 'uab', 'ubc', 'uca', 'ia', 'ib', 'ic', 'in', 'p', 'pa', 'pb', 'pc', 'q', 's', 'pf', 'f', 'ep_imp', 'ep_exp'] as const;

export interface Rig {
  /** the current server: a new object after `restartServer` */
  server: TestServer;
  sim: ModbusSimulator;
  agents: Array<ReturnType<typeof createAgent>>;
  /**
   * Stops the server and starts it again on the same data directory (and, when
   * the caller fixed them in `serverExtra`, the same HTTP and MQTT ports), as
   * an operator restarting the service would. Agents, sensor and browsers are
   * left to reconnect by themselves.
   */
  restartServer(downMs?: number): Promise<void>;
  /** values the MQTT room sensor b-env1 publishes instead of its own (e.g. `{ water: 1 }`) */
  sensorOverride: Record<string, number>;
  /** stops agents, sensor, simulator and the server, and removes the data directory */
  stop(): Promise<void>;
}

export async function startRig(opts: { serverExtra?: Record<string, unknown>; dataDir?: string; historyHours?: number } = {}): Promise<Rig> {
  const dashboardDir = await buildDashboard();
  const server = await startTestServer({ topologyYaml: TOPOLOGY, ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), extra: { dashboardDir, ...opts.serverExtra } });
  // the embedded broker takes provisioned agents only (the credentials stay in the data dir across restartServer)
  if (opts.historyHours) await seedHistory(server.server.mqttUrl, await server.mqttAgent('b-history', 'b-east'), opts.historyHours);
  const sim = await startModbusSimulator({
    port: 0,
    units: Object.values(UNIT).map((unitId) => ({
      unitId,
      model: createMeterModel({ profile: PROFILE(unitId), seed: unitId }),
    })),
  });
  const agent = async (name: string, site: string, devices: Array<keyof typeof UNIT>) => {
    const { username, password } = await server.mqttAgent(name, site);
    return createAgent(
      loadAgentConfig({
        agent: name,
        site,
        mqtt: { url: server.server.mqttUrl, reconnectPeriodMs: 500, username, password },
        publishIntervalMs: 250,
        devices: devices.map((id) => ({ id, profile: 'dtsu666', transport: { kind: 'tcp', host: sim.host, port: sim.port }, unitId: UNIT[id], intervalMs: 500, timeoutMs: 300, backoffMaxMs: 1000 })),
      }),
      { log: testLog },
    );
  };
  const agents = [await agent('b-agent1', 'b-east', ['b-m1', 'b-m2', 'b-m3', 'b-m4']), await agent('b-agent2', 'b-west', ['b-m5', 'b-m6'])];
  for (const a of agents) await a.start();
  const sensor = await startSensor(server.server.mqttUrl, await server.mqttAgent('b-env', 'b-east'));
  let keptDataDir: string | null = null;
  const rig: Rig = {
    server,
    sim,
    agents,
    sensorOverride: sensor.override,
    async restartServer(downMs = 1000) {
      const dataDir = rig.server.dataDir;
      await rig.server.close({ keepData: true });
      keptDataDir = dataDir;
      await new Promise((r) => setTimeout(r, downMs));
      rig.server = await startTestServer({ topologyYaml: TOPOLOGY, dataDir, extra: { dashboardDir, ...opts.serverExtra } });
    },
    async stop() {
      await sensor.stop();
      for (const a of agents) await a.stop();
      await sim.stop();
      await rig.server.close();
      if (keptDataDir) await rm(keptDataDir, { recursive: true, force: true });
    },
  };
  return rig;
}

/**
 * Past hours of every meter, one reading per 10 s from the same load models
 * as the simulator, sent through the broker as backfill (`late: true`, as
 * an agent's spool would) by a separate agent id, so the history the charts
 * load went through ingest and the store like any reading.
 */
async function seedHistory(url: string, creds: mqtt.IClientOptions, hours: number): Promise<void> {
  const client = await mqtt.connectAsync(url, creds);
  const step = 10_000;
  const end = Date.now() - 5_000;
  let seq = 0;
  for (const [device, unitId] of Object.entries(UNIT)) {
    const model = createMeterModel({ profile: PROFILE(unitId), seed: unitId });
    const readings = [];
    for (let ts = end - hours * 3_600_000; ts <= end; ts += step) {
      const s = model.sample(ts);
      readings.push({ device, ts, seq: seq++, q: 'good', late: true, v: Object.fromEntries(WIRE.map((q) => [q, Math.round(s[q] * 1000) / 1000])) });
    }
    await client.publishAsync(readingsTopic('b-east', 'b-history'), JSON.stringify({ agent: 'b-history', readings }), { qos: 1 });
  }
  await client.endAsync();
}

/** An MQTT-native room sensor: one reading a second, reconnecting like any MQTT device. */
async function startSensor(url: string, creds: mqtt.IClientOptions): Promise<{ stop(): Promise<void>; override: Record<string, number> }> {
  const override: Record<string, number> = {};
  const client: MqttClient = await mqtt.connectAsync(url, { ...creds, reconnectPeriod: 500 });
  let seq = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    const wobble = Math.sin(now / 20_000);
    const msg = {
      agent: 'b-env',
      readings: [{ device: 'b-env1', ts: now, seq: seq++, q: 'good', v: { temp: 26.5 + wobble, humidity: 58 + 3 * wobble, door: 0, water: 0, smoke: 0, t_oil: 61.2 + wobble, t_winding: 74.8 + wobble, ...override } }],
    };
    if (client.connected) client.publish(readingsTopic('b-east', 'b-env'), JSON.stringify(msg), { qos: 1 });
  }, 1000);
  return {
    override,
    async stop() {
      clearInterval(timer);
      await client.endAsync(true);
    },
  };
}
