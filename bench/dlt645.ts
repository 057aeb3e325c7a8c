/**
 * DL/T 645 benchmark: reads per second on one bus at 9600 baud, the agent's
 * bus (edge-agent/dlt645/bus.ts) against the 645 simulator in its own
 * process on the far end of a socat pty pair, and the line's theoretical
 * limit for comparison.
 *
 * A pty moves bytes at once whatever its baud rate, so two runs:
 * - unpaced: what the software on both ends manages (the ceiling the code
 *   sets, far above any real line);
 * - paced: the simulator answers only after the request and the reply would
 *   have taken on a real 9600-baud line (11 bits a byte at 8E1), plus the
 *   meter turnaround given (GW_BENCH_TURNAROUND_MS, default 0), so the figure
 *   is the line's, with our overhead on top.
 * Per run: reads/s, latency p50/p99, and the agent side's cost per read:
 * the event loop's busy time (eventLoopUtilization: the JS thread) and the
 * whole process's CPU (process.cpuUsage: every thread, with the serialport
 * binding's reads and writes on libuv's pool and the tsx loader); the
 * simulator is another process.
 * Then one whole poll of the dlt645-3p profile (11 requests) timed on the
 * paced line: polls per second a 9600-baud bus carries. Last, the same
 * reads over a transparent TCP gateway on loopback, for the software's cost
 * without the serial port.
 *
 *   npx tsx bench/dlt645.ts
 *   GW_BENCH_SECONDS=5 GW_BENCH_TURNAROUND_MS=20 npx tsx bench/dlt645.ts
 *
 * Nothing here asserts a time: the machine is shared.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { BUILTIN_DLT645_PROFILES, Dlt645Bus, Dlt645Source, defaultFrameGapMs, serialLink, tcpLink } from '../edge-agent/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.GW_BENCH_SECONDS ?? 5);
const TURNAROUND_MS = Number(process.env.GW_BENCH_TURNAROUND_MS ?? 0);
const BAUD = 9600;
const BITS_PER_BYTE = 11; // start + 8 data + even parity + stop
const PREAMBLE = 4;
const ADDRESS = '000000000001';
const log = pino({ level: 'warn' });

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** request: FE×4 + 12 frame bytes + 4 DI bytes; reply: 12 + 4 DI + value bytes */
function theoretical(valueBytes: number, baud: number, turnaroundMs: number, gapMs: number): { bits: number; ms: number; perSecond: number } {
  const bytes = PREAMBLE + 12 + 4 + (12 + 4 + valueBytes);
  const bits = bytes * BITS_PER_BYTE;
  const ms = (bits * 1000) / baud + turnaroundMs + gapMs;
  return { bits, ms, perSecond: 1000 / ms };
}

async function pty(dir: string): Promise<{ a: string; b: string }> {
  mkdirSync(dir, { recursive: true });
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const c = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  children.push(c);
  for (let i = 0; i < 100 && !(existsSync(a) && existsSync(b)); i++) await sleep(20);
  return { a, b };
}

/** The simulator in its own process, on the pty or (no path) on a free TCP port; resolves with the port (0 for serial). */
async function simulator(ptyPath: string | null, paced: boolean): Promise<{ child: ChildProcess; port: number }> {
  const args = ['--import', 'tsx', path.join(ROOT, 'simulators/dlt645-main.ts'), '--meters', '1'];
  args.push(...(ptyPath ? ['--serial', ptyPath, '--baud', String(BAUD)] : ['--port', '0']));
  if (paced) args.push('--line-time-ms', String(TURNAROUND_MS));
  const c = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, GW_LOG_LEVEL: 'info' } });
  children.push(c);
  const port = await new Promise<number>((resolve, reject) => {
    c.stdout!.on('data', (d: Buffer) => {
      const line = d.toString();
      if (line.includes('simulator running')) resolve(Number(/"port":(\d+)/.exec(line)?.[1] ?? 0));
    });
    c.once('exit', (code) => reject(new Error(`simulator exited ${code}`)));
  });
  return { child: c, port };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function run(label: string, paced: boolean, dir: string, tcp = false): Promise<void> {
  const { a, b } = tcp ? { a: '', b: null } : await pty(path.join(dir, label));
  const { child: sim, port } = await simulator(b, paced);
  const link = tcp ? tcpLink('127.0.0.1', port) : serialLink({ path: a, baudRate: BAUD, dataBits: 8, parity: 'even', stopBits: 1 });
  const bus = new Dlt645Bus({ link, log, frameGapMs: tcp ? 0 : defaultFrameGapMs(BAUD) });
  try {
    for (let i = 0; i < 20; i++) await bus.read(ADDRESS, '02010100', 1000); // warm up
    const lat: number[] = [];
    const cpu0 = process.cpuUsage();
    const elu0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    while (performance.now() - t0 < SECONDS * 1000) {
      const s = performance.now();
      await bus.read(ADDRESS, '02010100', 1000);
      lat.push(performance.now() - s);
    }
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    console.log(
      `${label.padEnd(9)} ${(lat.length / (wall / 1000)).toFixed(1).padStart(8)} reads/s   p50 ${pct(lat, 50).toFixed(1)} ms  p99 ${pct(lat, 99).toFixed(1)} ms   ` +
        `event loop ${((elu.active * 1000) / lat.length).toFixed(0)} µs/read, process CPU ${((cpu.user + cpu.system) / lat.length).toFixed(0)} µs/read   (${lat.length} reads, ${bus.stats().failed} failed)`,
    );
    if (paced) {
      const source = new Dlt645Source({ bus, address: ADDRESS, profile: BUILTIN_DLT645_PROFILES.get('dlt645-3p')!, timeoutMs: 1000, log });
      const polls: number[] = [];
      const p0 = performance.now();
      while (performance.now() - p0 < SECONDS * 1000) {
        const s = performance.now();
        await source.poll();
        polls.push(performance.now() - s);
      }
      console.log(`dlt645-3p poll (11 requests) on the paced line: p50 ${pct(polls, 50).toFixed(0)} ms → ${(1000 / pct(polls, 50)).toFixed(2)} polls/s per bus (${polls.length} polls)`);
    }
  } finally {
    await bus.close();
    sim.kill('SIGTERM');
    await new Promise((r) => sim.once('exit', r));
  }
}

const gap = defaultFrameGapMs(BAUD);
console.log(`DL/T 645 at ${BAUD} baud, 8E1 (${BITS_PER_BYTE} bits a byte), ${PREAMBLE} FE before each request, frame gap ${gap} ms, turnaround ${TURNAROUND_MS} ms`);
console.log('theoretical line limit, one identifier per request:');
for (const [what, value] of [['2-byte value (voltage, PF, Hz)', 2], ['3-byte value (current, power)', 3], ['4-byte value (energy)', 4], ['block of 3 voltages', 6], ['block of 3 currents', 9]] as const) {
  const t = theoretical(value, BAUD, TURNAROUND_MS, gap);
  const t24 = theoretical(value, 2400, TURNAROUND_MS, defaultFrameGapMs(2400));
  console.log(`  ${what.padEnd(32)} ${String(t.bits).padStart(4)} bits  ${t.ms.toFixed(1).padStart(6)} ms → ${t.perSecond.toFixed(1).padStart(5)} reads/s at 9600   (${t24.perSecond.toFixed(1)} at 2400)`);
}
const dir = mkdtempSync(path.join(os.tmpdir(), 'gw-bench-645-'));
try {
  await run('unpaced', false, dir);
  await run('paced', true, dir);
  await run('tcp', false, dir, true);
} finally {
  children.forEach((c) => c.kill('SIGTERM'));
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
