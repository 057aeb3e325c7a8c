/**
 * Entry point of the DL/T 645 meter simulator: several meters on one bus,
 * behind a transparent TCP gateway or on a serial port (one end of a socat
 * pty pair: `socat pty,raw,echo=0,link=/tmp/a pty,raw,echo=0,link=/tmp/b`).
 *
 *   tsx simulators/dlt645-main.ts (--port 5645 [--host 127.0.0.1] | --serial /tmp/b [--baud 2400])
 *                                 [--meters 3] [--first-address 000000000001] [--seed 1]
 *                                 [--dead 000000000002,…] [--max-value-bytes 196] [--line-time-ms <turnaround>]
 *
 * Meters get consecutive addresses from --first-address; the first is a
 * transformer (feeder load), the others alternate residential and commercial.
 * DL/T 645's XX.XXXX kW format tops out at 79.9999, so larger loads read as
 * that, as on a real meter. --dead meters never answer. --line-time-ms (serial
 * only) makes each answer wait as long as the request and reply would take on
 * a real line at --baud, plus the given meter turnaround in ms.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createMeterModel, type MeterProfile } from './meter-model.ts';
import { startDlt645Simulator, type Dlt645SimTransport } from './dlt645-server.ts';

const log = pino({ level: process.env.GW_LOG_LEVEL ?? 'info' }).child({ component: 'dlt645-sim' });

function fail(message: string): never {
  log.fatal(message);
  process.exit(2);
}

const USAGE = `usage: tsx simulators/dlt645-main.ts (--port P | --serial PATH) [options]

Serves simulated DL/T 645-2007 meters on one bus: behind a transparent TCP
gateway, or on a serial port (e.g. one end of a socat pty pair).

  --port P                 TCP port of the gateway (0 picks a free one)
  --host H                 its listen address (default 127.0.0.1)
  --serial PATH            serial device instead of TCP
  --baud B                 serial speed: 1200, 2400, 4800, 9600, 19200 (default 2400), 8E1
  --meters N               meters on the bus (default 3), consecutive addresses
  --first-address A        12 digits (default 000000000001)
  --seed S                 random seed (default 1)
  --dead A[,A…]            meters that never answer
  --max-value-bytes N      split longer values into continuation frames (1..196, default 196)
  --line-time-ms T         serial: answer after the exchange's line time at --baud plus T ms
  -h, --help               print this and exit
`;

let args;
try {
  args = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      serial: { type: 'string' },
      baud: { type: 'string', default: '2400' },
      meters: { type: 'string', default: '3' },
      'first-address': { type: 'string', default: '000000000001' },
      seed: { type: 'string', default: '1' },
      dead: { type: 'string', default: '' },
      'max-value-bytes': { type: 'string', default: '196' },
      'line-time-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
} catch (err) {
  // an unknown flag or a missing value: the reason and the usage, no stack trace
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

if ((args.port === undefined) === (args.serial === undefined)) fail('give one of --port <tcp port> or --serial <path>');
const n = Number(args.meters);
if (!Number.isInteger(n) || n < 1 || n > 1000) fail(`--meters: 1..1000, got ${args.meters}`);
if (!/^\d{12}$/.test(args['first-address'])) fail(`--first-address: 12 digits, got ${args['first-address']}`);
const seed = Number(args.seed);
if (!Number.isInteger(seed)) fail(`--seed: an integer, got ${args.seed}`);
const maxValueBytes = Number(args['max-value-bytes']);
if (!Number.isInteger(maxValueBytes) || maxValueBytes < 1 || maxValueBytes > 196) fail(`--max-value-bytes: 1..196, got ${args['max-value-bytes']}`);
const first = BigInt(args['first-address']);
if (first + BigInt(n - 1) > 999_999_999_999n) fail('--first-address: the addresses run past 999999999999');
let transport: Dlt645SimTransport;
if (args.port !== undefined) {
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: 0..65535, got ${args.port}`);
  transport = { kind: 'tcp', host: args.host, port };
} else {
  const baudRate = Number(args.baud);
  if (![1200, 2400, 4800, 9600, 19_200].includes(baudRate)) fail(`--baud: 1200, 2400, 4800, 9600 or 19200, got ${args.baud}`);
  const turnaround = args['line-time-ms'] === undefined ? undefined : Number(args['line-time-ms']);
  if (turnaround !== undefined && (!Number.isFinite(turnaround) || turnaround < 0 || turnaround > 10_000)) fail(`--line-time-ms: 0..10000, got ${args['line-time-ms']}`);
  transport = { kind: 'serial', path: args.serial!, baudRate, ...(turnaround !== undefined ? { lineTime: { turnaroundMs: turnaround } } : {}) };
}

const profileOf = (i: number): MeterProfile => (i === 0 ? 'feeder' : i % 2 === 1 ? 'residential' : 'commercial');
const addresses = Array.from({ length: n }, (_, i) => (first + BigInt(i)).toString().padStart(12, '0'));
const dead = args.dead.split(',').map((s) => s.trim()).filter(Boolean);
for (const d of dead) if (!addresses.includes(d)) fail(`--dead: ${d} is not one of the simulated addresses`);

const sim = await startDlt645Simulator({
  transport,
  meters: addresses.map((address, i) => ({ address, model: createMeterModel({ profile: profileOf(i), seed: seed * 1000 + i + 1 }), maxValueBytes })),
}).catch((err: Error) => fail(err.message));
for (const d of dead) sim.setDead(d, true);
log.info({ where: sim.where, port: sim.port || undefined, addresses, dead }, 'DL/T 645 simulator running');

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, stats: sim.stats() }, 'stopping');
    void sim.stop().then(() => process.exit(0));
  });
}
