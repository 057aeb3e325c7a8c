/**
 * Entry point of the meter simulator: the only place that reads argv/env and
 * builds the logger. Serves `--units N` DTSU666 meters (unit ids 1..N) on one
 * Modbus TCP port, like an RS-485 gateway.
 *
 *   tsx simulators/main.ts --port 5020 [--host 0.0.0.0] [--units 3] [--seed 1] [--import-kwh-address 0x101E]
 *
 * Unit 1 is a transformer (feeder profile); the others alternate residential
 * and commercial outgoing lines.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createMeterModel, dtsu666RegisterMap, startModbusSimulator, type MeterProfile } from './index.ts';

const log = pino({ level: process.env.GW_LOG_LEVEL ?? 'info' }).child({ component: 'meter-sim' });

function fail(message: string): never {
  log.fatal(message);
  process.exit(2);
}

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5020' },
    units: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    'import-kwh-address': { type: 'string', default: '0x401E' },
  },
  strict: true,
});

const port = Number(args.port);
const units = Number(args.units);
const seed = Number(args.seed);
const importAt = Number(args['import-kwh-address']);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: expected 0..65535, got ${args.port}`);
if (!Number.isInteger(units) || units < 1 || units > 247) fail(`--units: expected 1..247, got ${args.units}`);
if (!Number.isInteger(seed)) fail(`--seed: expected an integer, got ${args.seed}`);
if (importAt !== 0x401e && importAt !== 0x101e) fail(`--import-kwh-address: expected 0x401E or 0x101E, got ${args['import-kwh-address']}`);

const profileOf = (unitId: number): MeterProfile => (unitId === 1 ? 'feeder' : unitId % 2 === 0 ? 'residential' : 'commercial');
const registerMap = dtsu666RegisterMap({ importKwhAddress: importAt });
const sim = await startModbusSimulator({
  host: args.host,
  port,
  units: Array.from({ length: units }, (_, i) => ({
    unitId: i + 1,
    model: createMeterModel({ profile: profileOf(i + 1), seed: seed * 1000 + i + 1 }),
    registerMap,
  })),
});
log.info({ host: sim.host, port: sim.port, units, registerMap: registerMap.name }, 'meter simulator listening');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, stats: sim.stats() }, 'stopping');
    void sim.stop().then(() => process.exit(0));
  });
}
