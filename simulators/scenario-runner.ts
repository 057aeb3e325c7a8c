/**
 * Runs a scenario: starts its gateways (TCP or RTU) and room sensors, and
 * plays its fault timeline against them. The timeline can also drive
 * gateways and sensors started elsewhere (`npm start` starts its own).
 */
import type { Logger } from 'pino';
import { createMeterModel } from './meter-model.ts';
import { registerMapOf } from './maps.ts';
import { startModbusSimulator, type SimulatedGateway } from './modbus-server.ts';
import { startModbusRtuSimulator } from './modbus-rtu-server.ts';
import { startRoomSensors, type RoomSensors } from './room-sensors.ts';
import { dueEvents, isCallEvent, isMeterEvent, type CallEvent, type Scenario, type TimelineEvent } from './scenario.ts';

export interface TimelineOptions {
  /** only setFault is used: anything that can put a fault on a unit will do */
  gateways: ReadonlyMap<string, Pick<SimulatedGateway, 'setFault'>>;
  sensors?: RoomSensors | null;
  /** presses a room's one-key call button (call events) */
  call?: (call: CallEvent['call']) => Promise<void>;
  /** epoch ms; default Date.now */
  clock?: () => number;
  /** how often due events are looked for, ms; default 200 */
  tickMs?: number;
  log?: Logger;
}

export interface TimelineRun {
  /** events applied so far */
  fired(): number;
  stop(): void;
}

/** Plays `timeline` from now: each event is applied when its time comes (and again each repetition). */
export function startTimeline(timeline: Scenario['timeline'], opts: TimelineOptions): TimelineRun {
  const clock = opts.clock ?? Date.now;
  const t0 = clock();
  let last = -1;
  let fired = 0;
  const apply = (e: TimelineEvent) => {
    const durationMs = 'durationS' in e && e.durationS !== undefined ? e.durationS * 1000 : undefined;
    try {
      if (isMeterEvent(e)) {
        const gw = opts.gateways.get(e.gateway);
        if (!gw) throw new Error(`no gateway "${e.gateway}"`);
        gw.setFault(e.unit, e.fault, durationMs);
        opts.log?.info({ gateway: e.gateway, unit: e.unit, fault: e.fault, durationS: e.durationS }, 'fault injected');
      } else if (isCallEvent(e)) {
        if (!opts.call) throw new Error(`no call button for room "${e.call.room}"`);
        opts.call(e.call).then(
          () => opts.log?.info({ room: e.call.room }, 'one-key call pressed'),
          (err: unknown) => opts.log?.warn({ err, room: e.call.room }, 'one-key call could not be sent'),
        );
      } else {
        if (!opts.sensors) throw new Error(`no room sensors for "${e.sensor}"`);
        opts.sensors.set(e.sensor, e.set, durationMs);
        opts.log?.info({ sensor: e.sensor, set: e.set, durationS: e.durationS }, 'sensor event');
      }
      fired++;
    } catch (err) {
      opts.log?.warn({ err, event: e }, 'timeline event could not be applied');
    }
  };
  const tick = () => {
    const now = clock() - t0;
    for (const { event } of dueEvents(timeline.events, timeline.repeatS, last, now)) apply(event);
    last = now;
  };
  tick();
  const timer = setInterval(tick, opts.tickMs ?? 200);
  timer.unref();
  return { fired: () => fired, stop: () => clearInterval(timer) };
}

export interface ScenarioRun {
  gateways: Map<string, SimulatedGateway & { port?: number; path?: string }>;
  sensors: RoomSensors | null;
  timeline: TimelineRun;
  stop(): Promise<void>;
}

export async function startScenario(scenario: Scenario, opts: { clock?: () => number; log?: Logger; random?: () => number } = {}): Promise<ScenarioRun> {
  const gateways = new Map<string, SimulatedGateway & { port?: number; path?: string }>();
  let sensors: RoomSensors | null = null;
  const stopAll = async () => {
    await Promise.all([...gateways.values()].map((g) => g.stop()));
    await sensors?.stop();
  };
  try {
    let seed = 1;
    for (const g of scenario.gateways) {
      const units = g.units.map((u) => ({
        unitId: u.unit,
        model: createMeterModel({ profile: u.load, seed: u.seed ?? seed++, ...(u.ratedKw !== undefined ? { ratedKw: u.ratedKw } : {}) }),
        registerMap: registerMapOf(u.type),
      }));
      const common = { units, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.random ? { random: opts.random } : {}) };
      const sim = g.tcp
        ? await startModbusSimulator({ host: g.tcp.host, port: g.tcp.port, ...common })
        : await startModbusRtuSimulator({ path: g.rtu!.path, baudRate: g.rtu!.baudRate, ...common });
      gateways.set(g.id, sim);
      opts.log?.info({ gateway: g.id, ...(g.tcp ? { port: (sim as { port?: number }).port } : { path: g.rtu!.path }), units: g.units.length }, 'simulated gateway started');
    }
    if (scenario.sensors.length > 0) sensors = await startRoomSensors({ mqttUrl: scenario.mqtt!.url, sensors: scenario.sensors, ...(opts.clock ? { clock: opts.clock } : {}) });
  } catch (err) {
    await stopAll();
    throw err;
  }
  const timeline = startTimeline(scenario.timeline, { gateways, sensors, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.log ? { log: opts.log } : {}) });
  return {
    gateways,
    sensors,
    timeline,
    async stop() {
      timeline.stop();
      await stopAll();
    },
  };
}
