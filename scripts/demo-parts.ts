/**
 * Everything `npm start` runs beside the server, for a generated grid
 * (demo-grid.ts): per room one Modbus TCP gateway simulator (its transformer
 * and line meters, mixed types), one DL/T 645 transparent TCP gateway
 * simulator where the room's line meters speak DL/T 645, one edge agent with
 * its own MQTT credentials; one local broker for all the rooms' MQTT sensors;
 * the one-key call buttons; and the storyline's timeline.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { createAgent, loadAgentConfig } from '../edge-agent/index.ts';
import type { GridwatchServer } from '../server/index.ts';
import { startEmbeddedBroker } from '../server/embedded-broker.ts';
import { AgentCredentials } from '../server/mqtt-credentials.ts';
import {
  agentMappingFor,
  createAreaModel,
  createMeterModel,
  loadShape,
  MAX_OVERLOAD_FACTOR,
  pressCallButton,
  registerMapOf,
  startDlt645Simulator,
  startModbusSimulator,
  startRoomSensors,
  startTimeline,
  type Fault,
  type MeterModel,
  type MeterModelOptions,
  type Scenario,
  type SimulatedGateway,
  type TimelineRun,
} from '../simulators/index.ts';
import type { DemoGrid, DemoMeter, DemoRoom } from './demo-grid.ts';

export interface DemoPartsOptions {
  grid: DemoGrid;
  scenario: Scenario;
  dataDir: string;
  log: Logger;
  /** the first room's Modbus gateway port, the next rooms' follow (DL/T 645 gateways after all of them); 0: any free ports */
  basePort: number;
  /** how often the agents poll each meter, ms (default 3000) */
  pollMs?: number;
}

export interface Stoppable {
  what: string;
  stop: () => Promise<void>;
}

/**
 * The overload of the storyline is relative to the meter's rating: `factor`
 * 1.3 brings it to 130 % of full load at whatever hour the demo runs. The
 * simulator's overload multiplies the present load, so the factor is scaled
 * by full load over the load of the hour (at most the simulator's limit).
 * The simulator's voltage drop (4 % per unit of load added) is scaled the
 * same way, so it follows the load added relative to full load, not the
 * factor: a light area driven ×10 drops as little as a busy one driven
 * ×1.5 (without this a light area's voltage, and with it a load rate taken
 * from voltage × current, fell far below the overload). `presentKw`, when
 * given, is the meter's load now (a transformer's: the sum of its lines and
 * the loss); otherwise the meter's own load curve gives it.
 */
export function ratedOverload(fault: Fault, m: DemoMeter, now: number, presentKw?: number): Fault {
  if (fault.kind !== 'overload') return fault;
  const local = new Date(now + 8 * 3_600_000);
  const shape = loadShape(m.profile, local.getUTCHours() + local.getUTCMinutes() / 60, local.getUTCDay());
  const present = Math.max(1e-3, presentKw ?? m.ratedKw * shape);
  const factor = Math.min(MAX_OVERLOAD_FACTOR, ((fault.factor ?? 1.3) * m.fullKw) / present);
  const vDrop = Math.min(0.1, (fault.vDrop ?? 0.04) * Math.min(1, present / m.fullKw));
  return { ...fault, factor, vDrop };
}

const modelOptions = (m: DemoMeter): MeterModelOptions => ({
  profile: m.profile,
  seed: m.seed,
  ratedKw: m.ratedKw,
  ...(m.readingFactor !== undefined ? { readingFactor: m.readingFactor } : {}),
});

/**
 * The simulated meter of `m`: a line meter its own load model; a transformer's
 * meter the sum of its lines' loads plus the area's technical loss
 * (simulators/area-model.ts), with `activeKw` its true load at t.
 */
export function demoMeterModel(room: DemoRoom, m: DemoMeter): { model: MeterModel; activeKw?: (t: number) => number } {
  const lines = room.meters.filter((x) => x.role === 'line' && x.transformer === m.transformer);
  if (m.role !== 'transformer' || lines.length === 0) return { model: createMeterModel(modelOptions(m)) };
  const area = createAreaModel({ transformer: modelOptions(m), lines: lines.map(modelOptions), lossFraction: m.lossFraction ?? 0.03 });
  return { model: area, activeKw: (t) => area.activeKw(t) };
}

/**
 * An overload on a meter of a summed area is the area's: the factor that
 * takes the transformer to its rated overload against the area's present load
 * (`ratedOverload`), and the same factor on every line meter of the area, so
 * supply and sales still add up while it lasts (a line scaled against its own
 * rating would make the area's loss jump). A meter without an area: its own.
 */
export function areaOverload(room: DemoRoom, m: DemoMeter, fault: Fault, now: number): Fault {
  if (fault.kind !== 'overload') return fault;
  const tx = room.meters.find((x) => x.role === 'transformer' && x.transformer === m.transformer);
  const present = tx && demoMeterModel(room, tx).activeKw;
  return tx && present ? ratedOverload(fault, tx, now, present(now)) : ratedOverload(fault, m, now);
}

export interface DemoParts {
  /** Starts the agents (on the running server's broker) and the storyline. */
  startAgents(server: Pick<GridwatchServer, 'mqttUrl'>): Promise<{ timeline: TimelineRun }>;
}

/**
 * Starts the simulators and the sensors, and provisions (first start) or
 * rotates the agents' MQTT credentials in the data dir — all before the
 * server starts: the comm-loss rule counts the meters' silence from the
 * server's first broker connection, and 60 password hashes take a while.
 * Each part is pushed on `stops` as soon as it runs, so a failure half-way
 * still stops what started.
 */
export async function prepareDemoParts(o: DemoPartsOptions, stops: Stoppable[]): Promise<DemoParts> {
  const pollMs = o.pollMs ?? 3000;
  // the simulators share the process with everything else: a timeout of a real RS-485 line (0.8 s) would be missed under load
  const timeoutMs = 2000;
  const credentials = new AgentCredentials(o.dataDir);
  await credentials.start();
  // the rooms' MQTT sensors publish to a local sensor broker, as in a real substation: the server's broker takes
  // provisioned agents only, on their own topics
  const sensorBroker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log: o.log.child({ component: 'sensor-broker' }) });
  stops.push({ what: 'sensor broker', stop: () => sensorBroker.stop() });
  const sensors = await startRoomSensors({ mqttUrl: sensorBroker.url, sensors: o.scenario.sensors });
  stops.push({ what: 'room sensors', stop: () => sensors.stop() });

  const targets = new Map<string, Pick<SimulatedGateway, 'setFault'>>();
  const passwords = new Map<string, string>();
  const dltBase = o.basePort === 0 ? 0 : o.basePort + o.grid.rooms.length;
  let modbusMeters = 0;
  let dltMeters = 0;
  const agentConfigs: Array<{ room: DemoRoom; config: unknown }> = [];
  const startRoom = async (room: DemoRoom, k: number): Promise<void> => {
    const model = (m: DemoMeter): MeterModel => demoMeterModel(room, m).model;
    const modbus = room.meters.filter((m) => m.bus.kind === 'modbus');
    const dlt = room.meters.filter((m) => m.bus.kind === 'dlt645');
    const sim = await startModbusSimulator({
      port: o.basePort === 0 ? 0 : o.basePort + k,
      units: modbus.map((m) => ({ unitId: m.bus.kind === 'modbus' ? m.bus.unit : 0, model: model(m), registerMap: registerMapOf(m.bus.kind === 'modbus' ? m.bus.type : 'dtsu666') })),
    });
    stops.push({ what: `simulator ${room.id}`, stop: () => sim.stop() });
    for (const m of modbus) if (m.bus.kind === 'modbus') targets.set(m.id, { setFault: (_u, f, d) => {
      sim.setFault((m.bus as { unit: number }).unit, areaOverload(room, m, f, Date.now()), d);
    } });
    const dltSim = dlt.length
      ? await startDlt645Simulator({ transport: { kind: 'tcp', host: '127.0.0.1', port: dltBase === 0 ? 0 : dltBase + k }, meters: dlt.map((m) => ({ address: (m.bus as { address: string }).address, model: model(m) })) })
      : null;
    if (dltSim) {
      stops.push({ what: `DL/T 645 gateway ${room.id}`, stop: () => dltSim.stop() });
      for (const m of dlt) targets.set(m.id, { setFault: (_u, f, d) => dltSim.setFault((m.bus as { address: string }).address, areaOverload(room, m, f, Date.now()), d) });
    }
    modbusMeters += modbus.length;
    dltMeters += dlt.length;
    o.log.debug({ room: room.id, modbusPort: sim.port, modbusMeters: modbus.length, ...(dltSim ? { dlt645Port: dltSim.port, dlt645Meters: dlt.length } : {}) }, 'room gateway simulators listening');

    // the agent's MQTT credentials: provisioned on the first start, a fresh password on every later one (shown to nobody)
    const known = credentials.get(room.agent);
    const { password } = known && !known.revoked ? await credentials.rotate(room.agent) : await credentials.provision(room.agent, room.site);
    passwords.set(room.id, password);
    agentConfigs.push({
      room,
      config: {
        agent: room.agent,
        site: room.site,
        mqtt: { username: room.agent, password },
        publishIntervalMs: 1000,
        // store and forward: readings survive a server or agent restart
        spool: { dir: path.join(o.dataDir, 'spool', room.agent) },
        room: {
          mqtt: { url: sensorBroker.url },
          devices: room.sensors.map((x) => ({ id: x.id, topic: sensors.topicOf(x.id), staleAfterMs: Math.max(60_000, 3 * (x.intervalMs ?? 5000)), ...agentMappingFor(x.kind) })),
        },
        devices: modbus.map((m) => ({ id: m.id, profile: m.bus.kind === 'modbus' ? m.bus.type : 'dtsu666', transport: { kind: 'tcp', host: '127.0.0.1', port: sim.port }, unitId: (m.bus as { unit: number }).unit, intervalMs: pollMs, timeoutMs })),
        ...(dltSim
          ? { dlt645: { devices: dlt.map((m) => ({ id: m.id, profile: 'dlt645-3p', address: (m.bus as { address: string }).address, transport: { kind: 'tcp', host: '127.0.0.1', port: dltSim.port }, intervalMs: pollMs, timeoutMs })) } }
          : {}),
      },
    });
  };
  for (const [k, room] of o.grid.rooms.entries()) await startRoom(room, k);
  o.log.info({ rooms: o.grid.rooms.length, modbusMeters, dlt645Meters: dltMeters, sensors: o.scenario.sensors.length, pollMs }, 'demo grid: gateway simulators and sensors running');
  // an agent's info lines (every device coming up) would bury the story on a terminal: warnings and errors only, unless debugging
  const agentLog = o.log.child({ component: 'edge-agent' }, { level: o.log.isLevelEnabled('debug') ? o.log.level : 'warn' });

  return {
    startAgents: async (server) => {
      // a few seconds for all of them (the comm-loss rule counts from the server's start), but not all at the same instant:
      // each connection costs the broker a password hash, and 60 at once miss their CONNACK timeout on a busy machine
      await Promise.all(
        agentConfigs.map(async ({ room, config }, i) => {
          await new Promise((r) => setTimeout(r, i * 80));
          const c = config as { mqtt: Record<string, unknown> };
          const agent = createAgent(loadAgentConfig({ ...c, mqtt: { ...c.mqtt, url: server.mqttUrl } }), { log: agentLog });
          // registered before its start: Ctrl-C during the start waits for it, then stops the agent
          const started = agent.start();
          stops.push({ what: `agent ${room.agent}`, stop: async () => (await started.catch(() => undefined), agent.stop()) });
          await started;
        }),
      );
      o.log.info({ agents: agentConfigs.length }, 'demo agents running');

      const timeline = startTimeline(o.scenario.timeline, {
        gateways: targets,
        sensors,
        call: async (call) => {
          const room = o.grid.rooms.find((x) => x.id === call.room)!;
          // a person presses again when nothing happens: up to three tries (a busy broker may miss the first CONNACK)
          for (let attempt = 1; ; attempt++) {
            try {
              await pressCallButton({ url: server.mqttUrl, agent: room.agent, password: passwords.get(room.id)!, site: room.site, call });
              return;
            } catch (err) {
              if (attempt >= 3) throw err;
              o.log.warn({ err, room: room.id, attempt }, 'one-key call not acknowledged; pressing again');
            }
          }
        },
        log: o.log.child({ component: 'storyline' }),
      });
      stops.push({ what: 'storyline', stop: async () => timeline.stop() });
      return { timeline };
    },
  };
}
