/**
 * Edge benchmark: how many meter tags per second the edge agent
 * reads, and what that costs it in CPU, measured inside the agent process
 * (process.cpuUsage, logged by edge-agent/main.ts with GW_AGENT_STATS_MS).
 *
 * Simulator processes serve many units on many ports (RS-485 gateways over
 * Modbus TCP), half SDM630 (16 tags in one request) and half DTSU666 (18 tags
 * in two). First a raw ceiling in this same run: bare modbus-serial clients,
 * one per port, reading the same blocks as fast as they are answered. Then
 * the real agent (its own process, disk spool, MQTT to a private Mosquitto)
 * at rising poll rates; per stage: tags/s read, polls skipped, and the
 * agent's CPU as a share of one core per 10,000 tags/s, its resident memory
 * (peak over the window, with V8 heap and Buffers) against the targets for a
 * gateway (MEMORY_TARGET_MB), and its start-up time to the first readings
 * the broker acknowledged, with its phases (node and the bundle loaded, config
 * read, agent started, MQTT connected, first reading). Resident memory is
 * split into anonymous (V8 heap, malloc) and file-backed (mostly the node
 * binary's own code) pages, and set against a bare `node` process measured
 * in the same run: the floor no agent can go below. Stages at
 * GW_BENCH_NOFLAGS_INTERVALS run again without the launcher's flags, for the
 * CPU and memory the flags cost or save. Last, the same for DL/T 645 meters
 * behind transparent TCP gateways (simulators/dlt645-main.ts).
 *
 * The agent runs as it does on a gateway: the bundle (scripts/build-agent.ts,
 * built into a temp dir) with the launcher's node flags (AGENT_NODE_FLAGS).
 * GW_BENCH_AGENT=tsx runs edge-agent/main.ts through tsx instead, with no
 * flags (the source as developers run it).
 *
 * For scale: a well-known industrial gateway reads ~100,000 tags/s with ~30 %
 * of four cores = 1.2 cores, i.e. 12 % of one core per 10,000 tags/s.
 *
 *   npx tsx bench/edge.ts
 *   GW_BENCH_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"   profiles the agent
 *   GW_BENCH_SECONDS=8 GW_BENCH_SIMS=2 GW_BENCH_PORTS=16 GW_BENCH_UNITS=32 GW_BENCH_INTERVALS=1000,500,250,150 npx tsx bench/edge.ts
 *   GW_BENCH_NOFLAGS_INTERVALS=1000,150   stages run again without the node flags (empty: none)
 *   GW_BENCH_COMPARE_FLAGS="--a --b;--c"   the first interval's stage again with each of these flag sets
 *   GW_BENCH_SMAPS=1                      prints where the agent's resident memory is, by mapping, and its thread count, per stage
 *   GW_BENCH_TIMELINE=1                   prints the agent's RSS and V8 heap over each stage from its start (start-up transient against steady state)
 *   GW_BENCH_NO_MALLOC_ENV=1              the bundle without the launcher's glibc malloc settings (AGENT_MALLOC_ENV)
 *
 * Nothing here asserts a time: the machine is shared; the figures go into docs/performance.md
 * and docs/edge-agent.md. Last measured (2-core x86, load average 2–10 from other work), the
 * bundle with the launcher's flags and malloc settings: RSS peak 58–60 MB at 1 s (91–94 % of
 * 64 MB; a bare node 39.4 MB of it; 62 MB through a resend from disk once the watermark stalls
 * without a server after 30 s), 63–64 MB at 150 ms (65–67 % of 96 MB, 82,000 tags/s read), CPU
 * 8.7–13.1 % of a core per 10k tags/s, start-up to first published readings 0.42–0.97 s wall
 * and 385–642 ms of CPU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMosquitto, type ServiceHandle } from '../test/harness/index.ts';
import { AGENT_MALLOC_ENV, AGENT_NODE_FLAGS, buildAgent } from '../scripts/build-agent.ts';
import { cpuSeconds } from './support.ts';
import { ceiling, procRss, smapsTop, TAGS, TYPES, typeOf } from './edge-support.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.GW_BENCH_SECONDS ?? 8);
const SIMS = Number(process.env.GW_BENCH_SIMS ?? 2);
const PORTS = Number(process.env.GW_BENCH_PORTS ?? 16);
const UNITS = Number(process.env.GW_BENCH_UNITS ?? 32);
/** poll intervals of the stages, ms (the agent's config allows 100 and up); a gateway answers one request at a time, so load grows by gateways, not by hammering one */
const INTERVALS = (process.env.GW_BENCH_INTERVALS ?? '1000,500,250,150').split(',').map(Number);
const WARMUP_MS = 3000;
/** `bundle` (default): dist bundle with the launcher's flags; `tsx`: the source through tsx */
const AGENT_MODE = process.env.GW_BENCH_AGENT === 'tsx' ? 'tsx' : 'bundle';
/** node flags of the bundled agent; default the launcher's */
const BUNDLE_FLAGS = process.env.GW_BENCH_AGENT_FLAGS !== undefined ? process.env.GW_BENCH_AGENT_FLAGS.split(' ').filter(Boolean) : [...AGENT_NODE_FLAGS];
/** DL/T 645 stage: gateways (simulator processes) × meters each, polled every DLT645_INTERVAL_MS; 0 gateways skips it */
const DLT645_GATEWAYS = Number(process.env.GW_BENCH_645_GATEWAYS ?? 4);
const DLT645_METERS = Number(process.env.GW_BENCH_645_METERS ?? 16);
const DLT645_INTERVAL_MS = Number(process.env.GW_BENCH_645_INTERVAL_MS ?? 1000);
/** stages run a second time with no node flags (bundle mode only); empty: none */
const NOFLAGS_INTERVALS = (process.env.GW_BENCH_NOFLAGS_INTERVALS ?? '1000,150').split(',').filter(Boolean).map(Number);
/** further node flag sets, `;`-separated, each run at the first interval (bundle mode only) */
const COMPARE_FLAGS = (process.env.GW_BENCH_COMPARE_FLAGS ?? '').split(';').map((f) => f.split(' ').filter(Boolean)).filter((f) => f.length > 0);
const SMAPS = process.env.GW_BENCH_SMAPS === '1';
/** prints the agent's RSS and V8 heap over the stage, from its start (peak against steady state) */
const TIMELINE = process.env.GW_BENCH_TIMELINE === '1';
/** resident memory the agent must stay under on a gateway, MB: polling every second, and faster */
const MEMORY_TARGET_MB = (intervalMs: number) => (intervalMs >= 1000 ? 64 : 96);

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

interface Proc {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  exited: Promise<void>;
}

/** extra node flags for the agent process, e.g. GW_BENCH_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" */
const AGENT_NODE_ARGS = (process.env.GW_BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);

function run(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = [], viaTsx = true): Proc {
  const child = spawn(process.execPath, [...nodeArgs, ...(viaTsx ? ['--import', 'tsx'] : []), ...args], { cwd: ROOT, env: { ...process.env, GW_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<void>((r) =>
    child.once('exit', () => {
      children.delete(child);
      r();
    }),
  );
  return { child, lines, exited };
}

async function until<T>(what: string, f: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const x = f();
    if (x !== undefined) return x;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface Stage {
  label: string;
  intervalMs: number;
  demandTagsPerS: number;
  tagsPerS: number;
  pollsPerS: number;
  skippedPerS: number;
  commLossPerS: number;
  agentCores: number;
  cpuPctPer10k: number;
  simCores: number;
  rssMb: number;
  rssPeakMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  startupMs: number;
  /** CPU time of the agent process (all threads) until its first readings were published, ms */
  startupCpuMs: number;
  /** ms since process start at each start-up phase */
  phasesMs: Record<string, number>;
  /** resident pages at the end of the window, MB: anonymous (heap, malloc) and file-backed (the node binary) */
  rssAnonMb: number;
  rssFileMb: number;
  flags: string;
  publishedPerS: number;
  loopBusy: number;
  loopDelayMaxMs: number;
}

let bundlePath = '';

function startAgent(config: string, flags: readonly string[]): Proc {
  const env = { GW_AGENT_STATS_MS: '500' };
  // the bundle as the launcher runs it: its malloc settings too (GW_BENCH_NO_MALLOC_ENV=1: without)
  const malloc = process.env.GW_BENCH_NO_MALLOC_ENV === '1' ? {} : AGENT_MALLOC_ENV;
  return AGENT_MODE === 'tsx' ? run(['edge-agent/main.ts', config], env, AGENT_NODE_ARGS) : run([bundlePath, config], { ...malloc, ...env }, [...flags, ...AGENT_NODE_ARGS], false);
}

/** A bare node (no code, one timer) on this machine: what every agent process costs before its first line. */
async function bareNode(): Promise<{ anon: number; file: number }> {
  const p = run(['-e', 'setTimeout(() => {}, 5000)'], {}, [], false);
  await sleep(1500);
  const r = procRss(p.child.pid!);
  p.child.kill('SIGKILL');
  await p.exited;
  return r;
}

async function modbusStage(intervalMs: number, ports: number[], brokerUrl: string, sims: Proc[], flags: readonly string[] = BUNDLE_FLAGS): Promise<Stage> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'gw-bench-edge-'));
  const devices = ports.flatMap((port, p) =>
    Array.from({ length: UNITS }, (_, u) => ({
      id: `p${p}-u${u + 1}`,
      profile: typeOf(u + 1),
      transport: { kind: 'tcp', host: '127.0.0.1', port },
      unitId: u + 1,
      intervalMs,
      timeoutMs: 1000,
    })),
  );
  const demand = (ports.length * UNITS * ((TAGS.sdm630 + TAGS.dtsu666) / 2) * 1000) / intervalMs;
  return measure(`modbus ${intervalMs} ms${flags.length === 0 && AGENT_MODE === 'bundle' ? ' -flags' : ''}`, intervalMs, demand, work, { devices }, brokerUrl, sims, flags);
}

async function dlt645Stage(ports: number[], brokerUrl: string, sims: Proc[]): Promise<Stage> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'gw-bench-edge-'));
  const devices = ports.flatMap((port, g) =>
    Array.from({ length: DLT645_METERS }, (_, m) => ({
      id: `g${g}-m${m + 1}`,
      profile: 'dlt645-3p',
      address: String(m + 1).padStart(12, '0'),
      transport: { kind: 'tcp', host: '127.0.0.1', port },
      intervalMs: DLT645_INTERVAL_MS,
      timeoutMs: 1000,
    })),
  );
  // dlt645-3p: 16 values in 11 requests
  const demand = (ports.length * DLT645_METERS * 16 * 1000) / DLT645_INTERVAL_MS;
  return measure(`dlt645 ${DLT645_INTERVAL_MS} ms`, DLT645_INTERVAL_MS, demand, work, { dlt645: { devices } }, brokerUrl, sims, BUNDLE_FLAGS);
}

async function measure(label: string, intervalMs: number, demandTagsPerS: number, work: string, meters: Record<string, unknown>, brokerUrl: string, sims: Proc[], flags: readonly string[]): Promise<Stage> {
  const config = path.join(work, 'agent.json');
  await writeFile(
    config,
    JSON.stringify({
      agent: `bench-${label.replace(/[^a-z0-9]+/g, '-')}`,
      site: 'bench',
      mqtt: { url: brokerUrl },
      publishIntervalMs: 500,
      spool: { dir: path.join(work, 'spool'), fsync: 'interval' },
      ...meters,
    }),
  );
  const agent = startAgent(config, flags);
  try {
    const stats = () => agent.lines.filter((l) => l.msg === 'agent stats');
    await until('agent stats', () => (stats().length > 0 ? true : undefined), 60_000).catch((err: Error) => {
      throw new Error(`${err.message}; the agent's last lines:\n${agent.lines.slice(-8).map((l) => JSON.stringify(l).slice(0, 300)).join('\n')}`);
    });
    await sleep(WARMUP_MS);
    const simA = sims.reduce((n, s) => n + cpuSeconds(s.child.pid!), 0);
    const from = stats().length;
    const a = stats().at(-1)!;
    await sleep(SECONDS * 1000);
    const b = stats().at(-1)!;
    const window = stats().slice(from);
    const simB = sims.reduce((n, s) => n + cpuSeconds(s.child.pid!), 0);
    const rss = procRss(agent.child.pid!);
    if (TIMELINE) {
      const all = stats();
      const step = Math.max(1, Math.round(all.length / 12));
      const mbOf = (l: Record<string, unknown>, k: string) => fmt(Number(l[k]) / 1024 / 1024, 1);
      process.stdout.write(
        `${label} memory over time (s since start: RSS / V8 heap used of committed, MB): ${all
          .filter((_, i) => i % step === 0 || i === all.length - 1)
          .map((l) => `${fmt(Number(l.atMs) / 1000, 1)} s ${mbOf(l, 'rssBytes')} / ${mbOf(l, 'heapUsedBytes')} of ${mbOf(l, 'heapTotalBytes')}`)
          .join(', ')}\n`,
      );
    }
    if (SMAPS)
      process.stdout.write(
        `${label} [${flags.join(' ')}] resident by mapping: ${smapsTop(agent.child.pid!)
          .map((m) => `${m.name.replace(/^.*\//, '')} ${fmt(m.anonMb, 1)}+${fmt(m.fileMb, 1)}f`)
          .join(', ')}; ${readdirSync(`/proc/${agent.child.pid!}/task`).length} threads\n`,
      );
    const n = (x: Record<string, unknown>, k: string) => Number(x[k]);
    const dt = (n(b, 'atMs') - n(a, 'atMs')) / 1000;
    const d = (k: string) => (n(b, k) - n(a, k)) / dt;
    const tagsPerS = d('values');
    const agentCores = (d('cpuUserUs') + d('cpuSystemUs')) / 1e6;
    const first = agent.lines.find((l) => l.msg === 'first readings published');
    const mb = (k: string) => n(b, k) / 1024 / 1024;
    return {
      label,
      intervalMs,
      demandTagsPerS,
      tagsPerS,
      pollsPerS: d('polls'),
      skippedPerS: d('skipped'),
      commLossPerS: d('commLoss'),
      agentCores,
      cpuPctPer10k: tagsPerS > 0 ? (agentCores / (tagsPerS / 10_000)) * 100 : Number.NaN,
      simCores: (simB - simA) / dt,
      rssMb: mb('rssBytes'),
      rssPeakMb: Math.max(...window.map((l) => n(l, 'rssBytes'))) / 1024 / 1024,
      heapUsedMb: mb('heapUsedBytes'),
      heapTotalMb: mb('heapTotalBytes'),
      externalMb: mb('externalBytes'),
      arrayBuffersMb: mb('arrayBuffersBytes'),
      startupMs: first ? n(first, 'sinceProcessStartMs') : Number.NaN,
      startupCpuMs: first ? n(first, 'cpuMs') : Number.NaN,
      phasesMs: (first?.phasesMs as Record<string, number> | undefined) ?? {},
      rssAnonMb: rss.anon,
      rssFileMb: rss.file,
      flags: AGENT_MODE === 'tsx' ? 'tsx' : flags.join(' ') || '(none)',
      publishedPerS: d('published'),
      loopBusy: window.reduce((k, l) => k + n(l, 'loopBusy'), 0) / Math.max(1, window.length),
      loopDelayMaxMs: Math.max(0, ...window.map((l) => n(l, 'loopDelayMaxMs'))),
    };
  } finally {
    agent.child.kill('SIGTERM');
    await Promise.race([agent.exited, sleep(8000)]);
    agent.child.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  }
}

function report(s: Stage, ceilingTagsPerS: number): void {
  const target = MEMORY_TARGET_MB(s.intervalMs);
  process.stdout.write(
    `${s.label.padEnd(16)}: demand ${fmt(s.demandTagsPerS).padStart(8)} tags/s → read ${fmt(s.tagsPerS).padStart(8)} tags/s ` +
      (ceilingTagsPerS > 0 ? `(${fmt((s.tagsPerS / ceilingTagsPerS) * 100, 1)} % of ceiling), ` : '') +
      `${fmt(s.pollsPerS)} polls/s, ${fmt(s.skippedPerS, 1)} skipped/s, ${fmt(s.commLossPerS, 1)} comm_loss/s; ` +
      `agent CPU ${fmt(s.agentCores * 100, 1)} % of a core = ${fmt(s.cpuPctPer10k, 1)} % per 10k tags/s; simulators ${fmt(s.simCores * 100)} %; agent event loop ${fmt(s.loopBusy * 100)} % busy, worst stall ${fmt(s.loopDelayMaxMs)} ms; published ${fmt(s.publishedPerS)} readings/s\n` +
      `${''.padEnd(16)}  agent RSS peak ${fmt(s.rssPeakMb)} MB = ${fmt((s.rssPeakMb / target) * 100)} % of the ${target} MB target (at the end: ${fmt(s.rssAnonMb, 1)} MB anonymous, ${fmt(s.rssFileMb, 1)} MB file-backed; V8 heap ${fmt(s.heapUsedMb)} of ${fmt(s.heapTotalMb)} MB, external ${fmt(s.externalMb, 1)} MB of which Buffers ${fmt(s.arrayBuffersMb, 1)} MB); node flags: ${s.flags}\n` +
      `${''.padEnd(16)}  start-up to first published readings ${fmt(s.startupMs)} ms, ${fmt(s.startupCpuMs)} ms of CPU (${Object.entries(s.phasesMs).map(([k, v]) => `${k} ${fmt(v)}`).join(', ') || 'no phases logged'})\n`,
  );
}

async function listening(sims: Proc[], msg: string, each: number): Promise<number[]> {
  const ports = await Promise.all(
    sims.map((s) =>
      until(`simulators listening (${msg})`, () => {
        const ls = s.lines.filter((l) => l.msg === msg);
        return ls.length === each ? ls.map((l) => Number(l.port)) : undefined;
      }, 90_000),
    ),
  );
  return ports.flat();
}

async function stopAll(procs: Proc[]): Promise<void> {
  for (const s of procs) s.child.kill('SIGTERM');
  await Promise.all(procs.map((s) => Promise.race([s.exited, sleep(5000)])));
}

async function main(): Promise<void> {
  const cpus = os.cpus();
  process.stdout.write(`edge bench: ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}; ${SIMS} simulator processes × ${PORTS} ports × ${UNITS} units = ${SIMS * PORTS * UNITS} meters (SDM630 / DTSU666)\n`);
  let bundleDir = '';
  if (AGENT_MODE === 'bundle') {
    bundleDir = await mkdtemp(path.join(os.tmpdir(), 'gw-bench-agent-'));
    const built = await buildAgent(bundleDir);
    bundlePath = built.bundle;
    process.stdout.write(`agent: the bundle (${fmt(built.bundleBytes / 1024)} KiB) with node ${[...BUNDLE_FLAGS, ...AGENT_NODE_ARGS].join(' ') || '(no flags)'}\n`);
  } else process.stdout.write(`agent: edge-agent/main.ts through tsx ${AGENT_NODE_ARGS.join(' ')}\n`);
  let broker: ServiceHandle | undefined;
  const sims: Proc[] = [];
  const sims645: Proc[] = [];
  try {
    broker = await startMosquitto();
    for (let i = 0; i < SIMS; i++) sims.push(run(['simulators/main.ts', '--port', '0', '--ports', String(PORTS), '--units', String(UNITS), '--type', TYPES.join(','), '--seed', String(i + 1)]));
    const ports = await listening(sims, 'meter simulator listening', PORTS);

    const bare = await bareNode();
    process.stdout.write(`bare node (no code): ${fmt(bare.anon + bare.file, 1)} MB resident (${fmt(bare.anon, 1)} MB anonymous, ${fmt(bare.file, 1)} MB file-backed)\n`);
    const c = process.env.GW_BENCH_CEILING === '0' ? { tagsPerS: 0, requestsPerS: 0 } : await ceiling(ports, UNITS, SECONDS);
    if (c.tagsPerS > 0) process.stdout.write(`\nraw ceiling (bare modbus-serial clients, one per port): ${fmt(c.tagsPerS)} tags/s, ${fmt(c.requestsPerS)} requests/s\n`);
    process.stdout.write('\n');

    const rows: Stage[] = [];
    for (const interval of INTERVALS) {
      const s = await modbusStage(interval, ports, broker.url, sims);
      rows.push(s);
      report(s, c.tagsPerS);
    }
    const without: Stage[] = [];
    if (AGENT_MODE === 'bundle' && BUNDLE_FLAGS.length > 0)
      for (const interval of NOFLAGS_INTERVALS) {
        const s = await modbusStage(interval, ports, broker.url, sims, []);
        without.push(s);
        report(s, c.tagsPerS);
      }
    if (AGENT_MODE === 'bundle')
      for (const flags of COMPARE_FLAGS) {
        const s = await modbusStage(INTERVALS[0]!, ports, broker.url, sims, flags);
        without.push(s);
        report(s, c.tagsPerS);
      }
    const best = rows.reduce((a, b) => (b.tagsPerS > a.tagsPerS ? b : a));
    const cheapest = Math.min(...rows.filter((r) => r.tagsPerS > 1000).map((r) => r.cpuPctPer10k));
    process.stdout.write(
      `\nmost read: ${fmt(best.tagsPerS)} tags/s at ${fmt(best.agentCores * 100, 1)} % of one core (${fmt(best.cpuPctPer10k, 1)} % per 10k tags/s); ` +
        `cheapest: ${fmt(cheapest, 1)} % of one core per 10k tags/s\n` +
        `reference gateway: 100,000 tags/s at 30 % of 4 cores = 12.0 % of one core per 10k tags/s → the agent costs ${fmt(best.cpuPctPer10k / 12, 2)}× that per tag at its best rate\n` +
        `memory: ${rows.map((r) => `${r.intervalMs} ms ${fmt(r.rssPeakMb)} MB (${fmt((r.rssPeakMb / MEMORY_TARGET_MB(r.intervalMs)) * 100)} % of ${MEMORY_TARGET_MB(r.intervalMs)} MB)`).join(', ')}; ` +
        `a bare node is ${fmt(bare.anon + bare.file)} MB of it\n`,
    );
    for (const w of without) {
      const f = rows.find((r) => r.intervalMs === w.intervalMs);
      if (f)
        process.stdout.write(
          `flags at ${w.intervalMs} ms: [${f.flags}] CPU ${fmt(f.cpuPctPer10k, 1)} % per 10k tags/s, RSS peak ${fmt(f.rssPeakMb)} MB; [${w.flags}] CPU ${fmt(w.cpuPctPer10k, 1)} %, RSS peak ${fmt(w.rssPeakMb)} MB\n`,
        );
    }
    await stopAll(sims.splice(0));

    if (DLT645_GATEWAYS > 0) {
      for (let g = 0; g < DLT645_GATEWAYS; g++) sims645.push(run(['simulators/dlt645-main.ts', '--port', '0', '--meters', String(DLT645_METERS), '--seed', String(g + 1)]));
      const ports645 = await listening(sims645, 'DL/T 645 simulator running', 1);
      process.stdout.write(`\nDL/T 645: ${DLT645_GATEWAYS} TCP gateways (simulator processes) × ${DLT645_METERS} meters, dlt645-3p (16 values in 11 requests)\n`);
      report(await dlt645Stage(ports645, broker.url, sims645), 0);
    }
  } finally {
    await stopAll([...sims, ...sims645]);
    await broker?.stop();
    if (bundleDir) await rm(bundleDir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
