/**
 * Real Mosquitto and real influxd for integration tests: private instances on
 * loopback, on free ports, with throw-away directories (Debian's mosquitto
 * 2.0 and influxd 1.x).
 *
 * Nothing here outlives the test run: every child is tracked and SIGKILLed on
 * the process 'exit' event, and a tiny `sh` watchdog per child kills it when
 * the owning process dies without running 'exit' handlers (SIGKILL, a vitest
 * worker terminated by a signal).
 *
 * One file: both services share the child tracking, the watchdog and the
 * free-port and readiness logic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, rmSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';

export type HarnessErrorCode =
  | 'GW_ERR_HARNESS_BINARY_MISSING'
  | 'GW_ERR_HARNESS_START'
  | 'GW_ERR_HARNESS_STATE'
  | 'GW_ERR_HARNESS_INFLUX';

/**
 * Kept in this file rather than an errors.ts: the harness is one file and is
 * only ever used by tests; the shape follows docs/conventions.md (errors have
 * codes).
 */
export class HarnessError extends Error {
  override readonly name = 'HarnessError';
  constructor(
    readonly code: HarnessErrorCode,
    message: string,
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ServiceHandle {
  /** `mqtt://127.0.0.1:PORT` or `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** The throw-away directory holding the config file and all data; removed by the final `stop()`. */
  readonly dataDir: string;
  /** PID of the current child; changes on `restart()`. */
  readonly pid: number;
  /** Wall-clock ms from spawn to ready for the most recent (re)start. */
  readonly startupMs: number;
  /** SIGTERM, wait for exit (SIGKILL after 5 s). Removes `dataDir` unless `keepData`. Idempotent. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** SIGKILL and wait for exit; keeps `dataDir` so `restart()` can follow. */
  kill(): Promise<void>;
  /** Graceful stop if running, then start again on the same port(s) with the same data dir. */
  restart(): Promise<void>;
  /** Last lines the child wrote to stdout/stderr. */
  logTail(lines?: number): string;
}

export interface BinaryOptions {
  /**
   * PATH-style list of directories to look the binary up in. Defaults to
   * `$PATH` plus the sbin directories: Debian installs `mosquitto` in
   * /usr/sbin, which is not on a non-root user's default PATH.
   */
  searchPath?: string;
  /** Startup deadline; default 20 s. */
  startTimeoutMs?: number;
}

export interface MosquittoOptions extends BinaryOptions {
  persistence?: boolean;
  /** Extra mosquitto.conf lines appended after the defaults (later lines win for global options). */
  extraConfig?: string[];
}

export type InfluxdOptions = BinaryOptions;

const DEFAULT_START_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const PORT_ATTEMPTS = 5;
const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

const PACKAGE_OF: Record<string, string> = { mosquitto: 'mosquitto', influxd: 'influxdb', 'nats-server': 'nats-server' };

// ---------------------------------------------------------------------------
// Binary lookup

export function defaultSearchPath(env: NodeJS.ProcessEnv = process.env): string {
  const dirs = (env.PATH ?? '').split(path.delimiter).filter(Boolean);
  for (const d of SBIN_DIRS) if (!dirs.includes(d)) dirs.push(d);
  return dirs.join(path.delimiter);
}

/** Absolute path of an executable `name` in `searchPath`, or undefined. */
export function findBinary(name: string, searchPath: string = defaultSearchPath()): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function requireBinary(name: string, searchPath: string | undefined): string {
  const found = findBinary(name, searchPath ?? defaultSearchPath());
  if (found) return found;
  const pkg = PACKAGE_OF[name] ?? name;
  throw new HarnessError(
    'GW_ERR_HARNESS_BINARY_MISSING',
    `${name} not found: install the Debian package "${pkg}" (apt-get install -y ${pkg})`,
  );
}

// ---------------------------------------------------------------------------
// Ports

/** A port that was free on 127.0.0.1 a moment ago (bind :0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close((err) => (err ? reject(err) : port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

// ---------------------------------------------------------------------------
// Children that must not outlive us

/** Last `maxBytes` of a child's output, for error messages. */
class OutputRing {
  private chunks: string[] = [];
  private size = 0;
  constructor(private readonly maxBytes = 64 * 1024) {}
  push(s: string): void {
    this.chunks.push(s);
    this.size += s.length;
    while (this.size > this.maxBytes && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    return this.chunks.join('');
  }
  tail(lines = 40): string {
    const all = this.text().split('\n');
    if (all.at(-1) === '') all.pop();
    return all.slice(-lines).join('\n');
  }
}

interface Running {
  child: ChildProcess;
  watchdog: ChildProcess | undefined;
  exited: Promise<void>;
  alive: boolean;
  /** This run's output until it is declared ready (the ring also holds earlier runs). */
  startupOutput: string;
  starting: boolean;
}

const liveChildren = new Set<Running>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    // Watchdogs first, so none of them kills a recycled PID after its child is gone.
    for (const r of liveChildren) r.watchdog?.kill('SIGKILL');
    for (const r of liveChildren) if (r.alive) r.child.kill('SIGKILL');
    for (const d of liveDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // best effort while exiting
      }
    }
  });
}

/**
 * `sh` reads its stdin, a pipe whose only writer is this process; EOF means we
 * died, whatever the way, and it SIGKILLs the child and removes its directory.
 */
function spawnWatchdog(pid: number, dir: string): ChildProcess | undefined {
  try {
    const script = 'read _; kill -KILL "$1" 2>/dev/null; sleep 0.2; rm -rf -- "$2"';
    const wd = spawn('/bin/sh', ['-c', script, 'gw-harness-watchdog', String(pid), dir], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    wd.on('error', () => {});
    wd.unref();
    (wd.stdin as unknown as net.Socket | null)?.unref();
    return wd;
  } catch {
    return undefined;
  }
}

function spawnTracked(bin: string, args: string[], dir: string, ring: OutputRing): Running {
  installExitHook();
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Running = { child, watchdog: undefined, alive: true, exited: Promise.resolve(), startupOutput: '', starting: true };
  r.exited = new Promise<void>((resolve) => {
    const done = (why: string) => {
      if (!r.alive) return;
      r.alive = false;
      ring.push(`[harness] ${path.basename(bin)} ${why}\n`);
      r.watchdog?.kill('SIGKILL');
      liveChildren.delete(r);
      resolve();
    };
    child.once('exit', (code, signal) => done(`exited (code ${code}, signal ${signal})`));
    child.once('error', (err) => done(`failed to spawn: ${err.message}`));
  });
  for (const s of [child.stdout, child.stderr]) {
    s?.setEncoding('utf8');
    s?.on('data', (d: string) => {
      ring.push(d);
      if (r.starting && r.startupOutput.length < 1_000_000) r.startupOutput += d;
    });
    (s as unknown as net.Socket | null)?.unref();
  }
  child.unref();
  if (child.pid !== undefined) {
    r.watchdog = spawnWatchdog(child.pid, dir);
    liveChildren.add(r);
  }
  return r;
}

async function terminate(r: Running, graceMs = STOP_GRACE_MS): Promise<void> {
  if (!r.alive) return;
  r.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((res) => (timer = setTimeout(() => res('late'), graceMs)));
  const outcome = await Promise.race([r.exited.then(() => 'exited' as const), late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    r.child.kill('SIGKILL');
    await r.exited;
  }
}

async function killNow(r: Running): Promise<void> {
  if (!r.alive) return;
  r.child.kill('SIGKILL');
  await r.exited;
}

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

// ---------------------------------------------------------------------------
// Generic service

export interface ServiceSpec {
  name: 'mosquitto' | 'influxd' | 'nats-server';
  /** Ports chosen by the caller (cluster nodes must know each other's before any starts); default: fresh free ones. */
  ports?: number[];
  /** How many ports the service binds; the first one is the one clients use. */
  portCount: number;
  url(port: number): string;
  config(dir: string, ports: number[]): string;
  args(configFile: string): string[];
  /** Logged by the child once it has bound its ports; proves the listener is ours, not a stranger's. */
  readyLog(ports: number[]): RegExp;
  /** A real protocol round-trip. */
  probe(url: string): Promise<boolean>;
}

const BIND_IN_USE = /address already in use/i;

class Service implements ServiceHandle {
  private ports: number[] = [];
  private running: Running | undefined;
  private removed = false;
  private readonly ring = new OutputRing();
  private lastStartupMs = 0;
  private lastPid = 0;

  constructor(
    private readonly spec: ServiceSpec,
    private readonly bin: string,
    readonly dataDir: string,
    private readonly timeoutMs: number,
  ) {}

  get url(): string {
    return this.spec.url(this.port);
  }
  get port(): number {
    return this.ports[0] ?? 0;
  }
  get pid(): number {
    return this.lastPid;
  }
  get startupMs(): number {
    return this.lastStartupMs;
  }
  get configFile(): string {
    return path.join(this.dataDir, `${this.spec.name}.conf`);
  }

  logTail(lines = 40): string {
    return this.ring.tail(lines);
  }

  /** First start: fresh ports, retried when another process grabbed one between freePort() and bind. */
  async start(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    let lastErr: unknown;
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      this.ports = this.spec.ports ?? (await distinctFreePorts(this.spec.portCount));
      await writeFile(this.configFile, this.spec.config(this.dataDir, this.ports));
      try {
        await this.launch(deadline);
        return;
      } catch (err) {
        lastErr = err;
        if (!(err instanceof HarnessError && err.retryable) || Date.now() >= deadline) break;
      }
    }
    throw lastErr;
  }

  /** Same ports, same config, same data. A port still held (e.g. by a stranger) is retried until the deadline. */
  async restart(): Promise<void> {
    if (this.removed) throw new HarnessError('GW_ERR_HARNESS_STATE', `${this.spec.name}: restart() after the final stop()`);
    if (this.running?.alive) await this.stop({ keepData: true });
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      try {
        await this.launch(deadline);
        return;
      } catch (err) {
        if (!(err instanceof HarnessError && err.retryable) || Date.now() >= deadline) throw err;
        await sleep(100);
      }
    }
  }

  async stop(opts: { keepData?: boolean } = {}): Promise<void> {
    if (this.running) await terminate(this.running);
    if (!opts.keepData && !this.removed) {
      this.removed = true;
      await rm(this.dataDir, { recursive: true, force: true });
      liveDirs.delete(this.dataDir);
    }
  }

  async kill(): Promise<void> {
    if (this.running) await killNow(this.running);
  }

  private async launch(deadline: number): Promise<void> {
    const t0 = performance.now();
    this.ring.push(`[harness] starting ${this.bin} on port(s) ${this.ports.join(', ')}\n`);
    const r = spawnTracked(this.bin, this.spec.args(this.configFile), this.dataDir, this.ring);
    this.running = r;
    if (r.child.pid !== undefined) this.lastPid = r.child.pid;
    const readyLog = this.spec.readyLog(this.ports);
    const url = this.url;
    let logged = false;
    for (;;) {
      if (!r.alive) {
        const inUse = BIND_IN_USE.test(r.startupOutput);
        throw new HarnessError(
          'GW_ERR_HARNESS_START',
          `${this.spec.name} exited during startup${inUse ? ' (port already in use)' : ''}; last output:\n${this.ring.tail()}`,
          inUse,
        );
      }
      logged ||= readyLog.test(r.startupOutput);
      if (logged && (await this.spec.probe(url)) && r.alive) break;
      if (Date.now() >= deadline) {
        await killNow(r);
        throw new HarnessError(
          'GW_ERR_HARNESS_START',
          `${this.spec.name} not ready at ${url} within ${this.timeoutMs} ms; last output:\n${this.ring.tail()}`,
        );
      }
      await sleep(logged ? 50 : 20);
    }
    r.starting = false;
    r.startupOutput = '';
    this.lastStartupMs = Math.round(performance.now() - t0);
  }
}

export async function distinctFreePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  return ports;
}

export async function startService(spec: ServiceSpec, opts: BinaryOptions): Promise<ServiceHandle> {
  const bin = requireBinary(spec.name, opts.searchPath);
  const dir = await mkdtemp(path.join(os.tmpdir(), `gw-${spec.name}-`));
  installExitHook();
  liveDirs.add(dir);
  const svc = new Service(spec, bin, dir, opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  try {
    await svc.start();
  } catch (err) {
    await svc.stop().catch(() => {});
    throw err;
  }
  return svc;
}

// ---------------------------------------------------------------------------
// Mosquitto

async function mqttProbe(url: string): Promise<boolean> {
  const client = mqtt.connect(url, {
    clientId: `gw-harness-probe-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    reconnectPeriod: 0,
    connectTimeout: 2_000,
    clean: true,
  });
  try {
    // resolves on CONNACK, i.e. a real MQTT session, not just an open socket
    return await new Promise<boolean>((resolve) => {
      client.once('connect', () => resolve(true));
      client.once('error', () => resolve(false));
      client.once('close', () => resolve(false));
    });
  } finally {
    client.end(true);
  }
}

export function startMosquitto(opts: MosquittoOptions = {}): Promise<ServiceHandle> {
  const persistence = opts.persistence ?? false;
  return startService(
    {
      name: 'mosquitto',
      portCount: 1,
      url: (port) => `mqtt://127.0.0.1:${port}`,
      config: (dir, [port]) =>
        [
          `listener ${port} 127.0.0.1`,
          'allow_anonymous true',
          // Started as root, mosquitto drops to user "mosquitto", which cannot
          // write our 0700 mkdtemp dir ("Error saving in-memory database ...
          // Permission denied"); "root" means "do not drop". Ignored when not root.
          ...(process.getuid?.() === 0 ? ['user root'] : []),
          `persistence ${persistence}`,
          ...(persistence ? [`persistence_location ${dir}${path.sep}`, 'autosave_interval 1'] : []),
          'log_dest stderr',
          // Defaults drop the excess past 100 queued messages per client and
          // allow 20 in flight; tests must not lose messages.
          'max_queued_messages 1000000',
          'max_queued_bytes 0',
          'max_inflight_messages 100',
          'set_tcp_nodelay true',
          ...(opts.extraConfig ?? []),
          '',
        ].join('\n'),
      args: (file) => ['-c', file],
      // printed after every listener is bound
      readyLog: () => /mosquitto version \S+ running/,
      probe: mqttProbe,
    },
    opts,
  );
}

// ---------------------------------------------------------------------------
// InfluxDB 1.x

export function startInfluxd(opts: InfluxdOptions = {}): Promise<ServiceHandle> {
  return startService(
    {
      name: 'influxd',
      // HTTP, and the RPC bind-address (default 8088), which must be free too
      portCount: 2,
      url: (port) => `http://127.0.0.1:${port}`,
      config: (dir, [http, rpc]) => `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"

[meta]
  dir = ${JSON.stringify(path.join(dir, 'meta'))}
[data]
  dir = ${JSON.stringify(path.join(dir, 'data'))}
  wal-dir = ${JSON.stringify(path.join(dir, 'wal'))}
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${http}"
  log-enabled = false
[continuous_queries]
  enabled = false
`,
      args: (file) => ['-config', file],
      // The RPC listener is opened before the HTTP service, so this line implies both.
      readyLog: ([http]) => new RegExp(`Listening on HTTP.*addr=127\\.0\\.0\\.1:${http}\\b`),
      probe: async (url) => {
        try {
          const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(2_000) });
          await res.arrayBuffer();
          return res.status === 204;
        } catch {
          return false;
        }
      },
    },
    opts,
  );
}

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export interface InfluxStatementResult {
  statement_id: number;
  series?: InfluxSeries[];
  error?: string;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

async function influxCall(method: 'GET' | 'POST', url: string, params: Record<string, string>): Promise<InfluxStatementResult[]> {
  const u = `${url.replace(/\/$/, '')}/query?${new URLSearchParams(params).toString()}`;
  const res = await fetch(u, { method, signal: AbortSignal.timeout(15_000) });
  const body = await res.text();
  if (!res.ok) {
    throw new HarnessError('GW_ERR_HARNESS_INFLUX', `influx ${method} /query ${params.q}: HTTP ${res.status}: ${body}`, res.status >= 500);
  }
  let parsed: { results?: InfluxStatementResult[]; error?: string };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch (cause) {
    throw new HarnessError('GW_ERR_HARNESS_INFLUX', `influx ${method} /query ${params.q}: not JSON: ${body}`, false, { cause });
  }
  const failed = parsed.error ?? parsed.results?.find((r) => r.error)?.error;
  if (failed) throw new HarnessError('GW_ERR_HARNESS_INFLUX', `influx ${method} /query ${params.q}: ${failed} (body: ${body})`);
  return parsed.results ?? [];
}

/** `CREATE DATABASE` is idempotent in InfluxDB 1.x. */
export async function createInfluxDatabase(url: string, name: string): Promise<void> {
  await influxCall('POST', url, { q: `CREATE DATABASE ${quoteIdent(name)}` });
}

/** InfluxQL over GET /query; timestamps come back as epoch milliseconds. */
export function influxQuery(url: string, db: string, q: string): Promise<InfluxStatementResult[]> {
  return influxCall('GET', url, { db, q, epoch: 'ms' });
}
