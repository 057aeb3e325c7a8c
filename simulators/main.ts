/**
 * Entry point of the meter simulator: the only place that reads argv/env and
 * builds the logger. Serves `--units N` meters (unit ids 1..N) on each of
 * `--ports P` consecutive Modbus TCP ports, like RS-485 gateways.
 *
 *   tsx simulators/main.ts --port 5020 [--ports 1] [--host 0.0.0.0] [--units 3] [--seed 1]
 *                          [--type dtsu666[,sdm630,em24,adw300,dtsu666-101e]] [--import-kwh-address 0x101E]
 *
 * `--type` is one meter type or a comma list given to the units in turn.
 * Unit 1 of each port is a transformer (feeder profile); the others alternate
 * residential and commercial outgoing lines.
 *
 *   tsx simulators/main.ts --scenario scenario.yaml [--control-port 8099]
 *
 * runs a scenario file instead (gateways, room sensors, fault timeline; see
 * scenario.ts). `--control-port` serves the run-time fault API (control.ts)
 * on 127.0.0.1; the flag-built gateways are named `gw-<port>` there.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { startControlServer, type ControlServer } from './control.ts';
import { createMeterModel, isMeterType, registerMapOf, startModbusSimulator, type MeterProfile, type MeterType, type SimulatedGateway } from './index.ts';
import type { RoomSensors } from './room-sensors.ts';
import { startScenario } from './scenario-runner.ts';
import { loadScenario } from './scenario.ts';

const log = pino({ level: process.env.GW_LOG_LEVEL ?? 'info' }).child({ component: 'meter-sim' });

function fail(message: string): never {
  log.fatal(message);
  process.exit(2);
}

const USAGE = `usage: tsx simulators/main.ts [options]

Serves simulated meters over Modbus TCP, or runs a scenario file.

  --host H                 listen address (default 127.0.0.1)
  --port P                 first Modbus TCP port (default 5020; 0 picks a free one)
  --ports N                consecutive ports, one gateway each (default 1)
  --units N                meters per port, unit ids 1..N (default 3)
  --seed S                 random seed (default 1)
  --type T[,T…]            meter types given to the units in turn (default dtsu666):
                           dtsu666, sdm630, em24, adw300, dtsu666-101e
  --import-kwh-address A   register of the import energy (e.g. 0x101E)
  --scenario FILE          run a scenario file (gateways, room sensors, fault timeline) instead
  --control-port P         serve the run-time fault API on 127.0.0.1:P
  -h, --help               print this and exit
`;

let parsed;
try {
  parsed = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '5020' },
      ports: { type: 'string', default: '1' },
      units: { type: 'string', default: '3' },
      seed: { type: 'string', default: '1' },
      type: { type: 'string', default: 'dtsu666' },
      'import-kwh-address': { type: 'string' },
      scenario: { type: 'string' },
      'control-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
} catch (e) {
  // an unknown flag or a missing value: the reason and the usage, no stack trace
  process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (parsed.values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const args = parsed.values;

const gateways = new Map<string, SimulatedGateway>();
let sensors: RoomSensors | null = null;
const stops: Array<() => Promise<void>> = [];
const controlPort = args['control-port'] === undefined ? undefined : Number(args['control-port']);
if (controlPort !== undefined && (!Number.isInteger(controlPort) || controlPort < 0 || controlPort > 65535)) fail(`--control-port: expected 0..65535, got ${args['control-port']}`);

if (args.scenario) {
  let scenario;
  try {
    scenario = loadScenario(parseYaml(await readFile(args.scenario, 'utf8')));
  } catch (err) {
    fail(`${args.scenario}: ${(err as Error).message}`);
  }
  const run = await startScenario(scenario, { log }).catch((err: Error) => fail(err.message));
  for (const [id, g] of run.gateways) gateways.set(id, g);
  sensors = run.sensors;
  stops.push(() => run.stop());
  log.info({ scenario: scenario.name ?? args.scenario, gateways: gateways.size, sensors: scenario.sensors.length, events: scenario.timeline.events.length }, 'scenario running');
} else {
  const port = Number(args.port);
  const ports = Number(args.ports);
  const units = Number(args.units);
  const seed = Number(args.seed);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: expected 0..65535, got ${args.port}`);
  if (!Number.isInteger(ports) || ports < 1 || ports > 1000 || (port > 0 && port + ports - 1 > 65535)) fail(`--ports: expected 1..1000 ports above --port, got ${args.ports}`);
  if (!Number.isInteger(units) || units < 1 || units > 247) fail(`--units: expected 1..247, got ${args.units}`);
  if (!Number.isInteger(seed)) fail(`--seed: expected an integer, got ${args.seed}`);
  const types = args.type.split(',').map((t) => t.trim());
  for (const t of types) if (!isMeterType(t)) fail(`--type: unknown meter type "${t}"`);
  let meterTypes = types as MeterType[];
  if (args['import-kwh-address'] !== undefined) {
    const at = Number(args['import-kwh-address']);
    if (at !== 0x401e && at !== 0x101e) fail(`--import-kwh-address: expected 0x401E or 0x101E, got ${args['import-kwh-address']}`);
    // kept from the first version of this tool: the DTSU666 firmware variant
    meterTypes = meterTypes.map((t) => (t === 'dtsu666' && at === 0x101e ? 'dtsu666-101e' : t));
  }

  const profileOf = (unitId: number): MeterProfile => (unitId === 1 ? 'feeder' : unitId % 2 === 0 ? 'residential' : 'commercial');
  for (let p = 0; p < ports; p++) {
    const sim = await startModbusSimulator({
      host: args.host,
      port: port === 0 ? 0 : port + p,
      units: Array.from({ length: units }, (_, i) => ({
        unitId: i + 1,
        model: createMeterModel({ profile: profileOf(i + 1), seed: seed * 1000 + p * 250 + i + 1 }),
        registerMap: registerMapOf(meterTypes[i % meterTypes.length]!),
      })),
    }).catch((err: Error) => fail(err.message));
    gateways.set(`gw-${sim.port}`, sim);
    stops.push(() => sim.stop());
    log.info({ host: sim.host, port: sim.port, units, types: meterTypes }, 'meter simulator listening');
  }
}

let control: ControlServer | undefined;
if (controlPort !== undefined) {
  control = await startControlServer({ gateways, sensors }, { port: controlPort }).catch((err: Error) => fail(`--control-port: ${err.message}`));
  log.info({ url: control.url, gateways: [...gateways.keys()] }, 'fault control API listening');
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, stats: Object.fromEntries([...gateways].map(([id, g]) => [id, g.stats()])) }, 'stopping');
    void Promise.all([control?.stop(), ...stops.map((s) => s())]).then(() => process.exit(0));
  });
}
