/**
 * Entry point: lists the DL/T 645 meters answering on a bus.
 *
 *   tsx edge-agent/discover.ts --dlt645 <host:port | serial path> [--baud 2400] [--parity even]
 *                              [--addresses 1-20,000012345678] [--timeout-ms 500] [--preamble 4]
 *
 * Without --addresses it sends 13H to AA×6 (a bus with one meter). With it,
 * it probes each address with a short read. Prints one line per meter found
 * (and per address probed) and a JSON summary last. Exit code 0: at least one
 * meter answered; 1: none did; 2: bad arguments; 3: the bus cannot be opened.
 */
import { parseArgs } from 'node:util';
import { Dlt645Bus } from './dlt645/bus.ts';
import { DLT645_BAUD_RATES } from './dlt645/config.ts';
import { parseAddressList, probeAddresses, readBusAddress } from './dlt645/discover.ts';
import { DLT645_PARITIES, serialLink, tcpLink, type Dlt645Parity, type LinkFactory } from './dlt645/link.ts';
import { defaultFrameGapMs } from './dlt645/meters.ts';
import { createLogger, type Logger } from './log.ts';

function fail(message: string): never {
  process.stderr.write(`discover: ${message}\n`);
  process.exit(2);
}

let log: Logger;
try {
  log = createLogger({ level: process.env.GW_LOG_LEVEL ?? 'warn' }).child({ component: 'dlt645-discover' });
} catch (err) {
  fail(`GW_LOG_LEVEL: ${(err as Error).message}`);
}

const USAGE = `usage: tsx edge-agent/discover.ts --dlt645 <host:port | serial path> [options]

Lists the DL/T 645 meters answering on a bus.

  --dlt645 BUS             a transparent TCP gateway (host:port) or a serial device
  --baud B                 serial speed: 1200, 2400, 4800, 9600, 19200 (default 2400)
  --parity P               none, even, odd (default even)
  --addresses LIST         probe these: 000012345678, 1-20, comma-separated; without it: 13H (one meter on the bus)
  --timeout-ms T           wait per request (default 500)
  --preamble N             FE bytes before each request, 0..4 (default 4)
  -h, --help               print this and exit

Exit code 0: a meter answered; 1: none did; 2: bad arguments; 3: the bus cannot be opened.
`;

let args;
try {
  args = parseArgs({
    options: {
      dlt645: { type: 'string' },
      baud: { type: 'string', default: '2400' },
      parity: { type: 'string', default: 'even' },
      addresses: { type: 'string' },
      'timeout-ms': { type: 'string', default: '500' },
      preamble: { type: 'string', default: '4' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }).values;
} catch (err) {
  fail(`${(err as Error).message}\n\n${USAGE}`);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const target = args.dlt645;
if (!target) fail('--dlt645 <host:port | serial path> is required');
const baud = Number(args.baud);
if (!(DLT645_BAUD_RATES as readonly number[]).includes(baud)) fail(`--baud: one of ${DLT645_BAUD_RATES.join(', ')}, got ${args.baud}`);
if (!(DLT645_PARITIES as readonly string[]).includes(args.parity)) fail(`--parity: one of ${DLT645_PARITIES.join(', ')}, got ${args.parity}`);
const timeoutMs = Number(args['timeout-ms']);
if (!Number.isInteger(timeoutMs) || timeoutMs < 10 || timeoutMs > 60_000) fail(`--timeout-ms: 10..60000, got ${args['timeout-ms']}`);
const preamble = Number(args.preamble);
if (!Number.isInteger(preamble) || preamble < 0 || preamble > 4) fail(`--preamble: 0..4, got ${args.preamble}`);
let addresses: string[] | undefined;
try {
  addresses = args.addresses === undefined ? undefined : parseAddressList(args.addresses);
} catch (err) {
  fail(`--addresses: ${(err as Error).message}`);
}

// host:port is a TCP gateway; anything else is a serial device path
const tcp = /^([^/:]+):(\d{1,5})$/.exec(target);
let link: LinkFactory;
if (tcp) {
  const port = Number(tcp[2]);
  if (port < 1 || port > 65535) fail(`--dlt645: port 1..65535, got ${tcp[2]}`);
  link = tcpLink(tcp[1]!, port);
} else link = serialLink({ path: target, baudRate: baud, dataBits: 8, parity: args.parity as Dlt645Parity, stopBits: 1 });

const bus = new Dlt645Bus({ link, log, preamble, frameGapMs: tcp ? 0 : defaultFrameGapMs(baud) });
const found: string[] = [];
let summary: Record<string, unknown>;
try {
  if (!addresses) {
    const r = await readBusAddress(bus, timeoutMs);
    if (r.kind === 'error') throw new Error(r.detail);
    if (r.kind === 'found') {
      found.push(r.address);
      process.stdout.write(`found ${r.address} (answered 13H)\n`);
    } else process.stdout.write(`${r.kind}: ${r.detail}\n`);
    summary = { bus: link.where, method: 'read-address', result: r.kind, found };
  } else {
    const results = await probeAddresses(bus, addresses, timeoutMs, (p) => {
      if (p.present) found.push(p.address);
      process.stdout.write(`${p.present ? 'found' : 'absent'} ${p.address}: ${p.detail}\n`);
    });
    summary = { bus: link.where, method: 'probe', probed: results.length, found };
  }
} catch (err) {
  process.stderr.write(`discover: ${(err as Error).message}\n`);
  await bus.close();
  process.exit(3);
}
await bus.close();
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(found.length > 0 ? 0 : 1);
