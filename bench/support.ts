/** What the benchmarks share: a real server process to measure, and how figures are printed. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
export function pct(a: number, b: number): string {
  return `${fmt((a / b) * 100, 1)} %`;
}
export function quantile(xs: number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  try {
    // fields after the command's closing parenthesis: state is field 3, utime 14, stime 15
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
/** USER_HZ: 100 on every Linux build Node supports */
const CLOCK_TICKS = 100;

/**
 * How long a process's main thread (its event loop) was runnable but waiting
 * for a CPU, and how often it was put on one, from the scheduler's
 * /proc/<pid>/task/<pid>/schedstat: [ns running, ns waiting, timeslices].
 * Returns what the thread waited per second of the interval, ms, and per wait.
 */
export function runQueueMeter(pid: number): () => { msPerS: number; slices: number } | null {
  const read = (): number[] | null => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    } catch {
      return null;
    }
  };
  const t0 = performance.now();
  const a = read();
  return () => {
    const b = read();
    if (!a || !b) return null;
    const wall = (performance.now() - t0) / 1000;
    return { msPerS: (b[1]! - a[1]!) / 1e6 / wall, slices: b[2]! - a[2]! };
  };
}

/**
 * The whole machine's CPU between the call and the returned function's call,
 * in cores, from /proc/stat: busy (everything but idle and iowait) and
 * stolen (`steal`: time a virtual machine's CPUs were ready but the host ran
 * something else). A run with much steal measured the host, not gridwatch.
 */
export function machineMeter(): () => { busy: number; steal: number } {
  const read = (): number[] => {
    try {
      return readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    } catch {
      return [];
    }
  };
  const t0 = performance.now();
  const a = read();
  return () => {
    const wall = (performance.now() - t0) / 1000;
    const b = read();
    if (a.length < 8 || b.length < 8) return { busy: NaN, steal: NaN };
    const d = b.map((x, i) => x - (a[i] ?? 0));
    // user nice system idle iowait irq softirq steal …; guest time is already counted in user
    const busy = d[0]! + d[1]! + d[2]! + d[5]! + d[6]!;
    return { busy: busy / CLOCK_TICKS / wall, steal: d[7]! / CLOCK_TICKS / wall };
  };
}

/** CPU used by named processes between `start()` and `stop()`, as cores (CPU s / wall s). */
export function cpuMeter(pids: Record<string, number>): () => Record<string, number> {
  const t0 = performance.now();
  const c0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  return () => {
    const wall = (performance.now() - t0) / 1000;
    return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, (cpuSeconds(pid) - c0[k]!) / wall]));
  };
}

/**
 * As in the Dockerfile's NODE_OPTIONS and `npm start`: a larger young
 * generation, so the per-reading objects (parsed messages, rule states
 * replaced once a poll) die there instead of being promoted to the old
 * generation; cuts the server's GC time by about a third at 50k readings/s.
 */
const SERVER_NODE_FLAGS = '--max-semi-space-size=64';

const BENCH_PASSWORD = 'bench-password-1';

export interface ServerProc {
  child: ChildProcess;
  url: string;
  /** session cookie of the admin */
  cookie: string;
  stop(): Promise<void>;
}

export async function startServerProcess(env: Record<string, string>): Promise<ServerProc> {
  // GW_BENCH_PROFILE=dir writes a V8 CPU profile of the server process there
  const prof = process.env.GW_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.GW_BENCH_PROFILE}`] : [];
  // GW_BENCH_HEAP=file: an allocation profile of the stage that calls heapSampling (bench/tools/heap-sampling.ts)
  const imports = process.env.GW_BENCH_HEAP ? ['--import', './bench/tools/heap-sampling.ts'] : [];
  // the server runs with the V8 flags it gets in production (Dockerfile, npm start);
  // GW_BENCH_NODE_FLAGS replaces them to compare others
  const flags = (process.env.GW_BENCH_NODE_FLAGS ?? SERVER_NODE_FLAGS).split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...prof, ...flags, '--import', 'tsx', ...imports, 'server/main.ts'], {
    env: {
      ...process.env,
      ...env,
      // GW_BENCH_SERVER_ENV=K=V,K=V sets more of the server's variables (e.g. GW_INGEST_BATCH_SIZE=2000)
      ...(process.env.GW_BENCH_SERVER_ENV ? Object.fromEntries(process.env.GW_BENCH_SERVER_ENV.split(',').map((kv) => kv.split('=') as [string, string])) : {}),
      GW_LOG_LEVEL: 'info',
      GW_ADMIN_PASSWORD: BENCH_PASSWORD,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => done(new Error(`server did not start: ${buf.slice(-2000)}`)), 30_000);
    const onExit = (code: number | null) => done(new Error(`server exited ${code}: ${buf.slice(-2000)}`));
    // removed once the URL is seen: kept, it would rescan everything the server ever printed on each write
    // (a quarter of this process's CPU by the end of a run, taken from the processes being measured)
    const onData = (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(/"url":"(http:\/\/[^"]+)"/);
      if (m) done(null, m[1]!);
    };
    function done(err: Error | null, found?: string) {
      clearTimeout(t);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(found!);
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
  // GW_BENCH_SERVER_STDOUT=file keeps everything the server prints (e.g. with GW_BENCH_NODE_FLAGS=--trace-gc)
  if (process.env.GW_BENCH_SERVER_STDOUT) child.stdout!.pipe(createWriteStream(process.env.GW_BENCH_SERVER_STDOUT));
  // the server's warnings and errors go to our stderr, each message once
  // (the bench's meters are not in a topology: one warning per meter otherwise); the rest is dropped
  const seen = new Set<string>();
  child.stdout!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) {
      if (!/"level":[4-6]0/.test(line)) continue;
      const msg = line.match(/"msg":"([^"]*)"/)?.[1] ?? line;
      if (seen.has(msg)) continue;
      seen.add(msg);
      process.stderr.write(`server: ${line.slice(0, 500)} (further ones like it not shown)\n`);
    }
  });
  const res = await fetch(`${url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: BENCH_PASSWORD }) });
  if (!res.ok) throw new Error(`bench login failed: ${res.status}`);
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  return {
    child,
    url,
    cookie,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** One figure from the server's Prometheus metrics (NaN when absent). */
export async function serverMetric(server: ServerProc, name: string): Promise<number> {
  return (await serverMetrics(server, [name]))[0]!;
}

/** Several figures from one scrape (some histograms restart at each scrape, e.g. the event-loop delay). */
export async function serverMetrics(server: ServerProc, names: readonly string[]): Promise<number[]> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { cookie: server.cookie } })).text();
  return names.map((name) => Number(text.match(new RegExp(`^${name} ([0-9.e+-]+)`, 'm'))?.[1] ?? NaN));
}

/** Cleanups a bench registers as it starts things: run in array order at the end, whatever happened. */
export type Cleanups = Array<() => Promise<void>>;

/** Runs a bench's main, then every cleanup it registered; exits 0, or 1 with the error printed. */
export function runBench(main: (cleanup: Cleanups) => Promise<void>): void {
  const cleanup: Cleanups = [];
  const finish = async () => {
    for (const c of cleanup) await c().catch((e) => console.error('cleanup failed', e));
  };
  main(cleanup)
    .then(finish, async (e) => {
      await finish();
      throw e;
    })
    .then(
      () => process.exit(0),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
}

/** Meters in one agent message: one agent's poll cycle of 100 meters. */
export const READINGS_PER_MESSAGE = 100;
/** An ordinary poll of a three-phase meter (V, A, kW, kvar, PF, Hz). */
export const BENCH_VALUES = { ua: 230.1, ub: 229.8, uc: 231.2, ia: 101.5, ib: 98.2, ic: 104.9, p: 68.3, q: 12.1, pf: 0.98, f: 50.01 } as const;
const VALUES_JSON = JSON.stringify(BENCH_VALUES);

/**
 * One agent's poll cycle of READINGS_PER_MESSAGE meters (`<agent>-m<i>`) as
 * the contract's JSON. Built from strings: the load generator shares the two
 * cores with what it measures, so it should spend as little of them as it
 * can. `name(i)` renames a meter; `values(i)` gives a meter other values (as
 * JSON), e.g. one over a limit.
 */
export function makeMessage(
  agent: string,
  seq0: number,
  ts: number,
  opts: { name?: (i: number) => string | undefined; values?: (i: number) => string | undefined } = {},
): string {
  let body = `{"agent":"${agent}","readings":[`;
  for (let i = 0; i < READINGS_PER_MESSAGE; i++) {
    const device = opts.name?.(i) ?? `${agent}-m${i}`;
    body += `${i ? ',' : ''}{"device":"${device}","ts":${ts},"seq":${seq0 + i},"v":${opts.values?.(i) ?? VALUES_JSON},"q":"good"}`;
  }
  return `${body}]}`;
}

/**
 * With GW_BENCH_HEAP=file, starts (and on the second call stops and writes)
 * the server's allocation profile: see bench/tools/heap-sampling.ts.
 */
export function heapSampling(server: ServerProc): void {
  if (process.env.GW_BENCH_HEAP) server.child.kill('SIGUSR2');
}
