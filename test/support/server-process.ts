/**
 * The real server as a child process (`server/main.ts <config.json>`, bundled
 * once per run: test/harness/server-bundle.ts), for
 * tests that kill it: SIGKILL (no stop, no drain, no final save) or SIGTERM
 * (the graceful stop). Its JSON log lines are parsed and kept; start() waits
 * for the "gridwatch dashboard at" line and logs in as admin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { entryArgs } from './entry.ts';
import { login, TEST_PASSWORD } from './server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** node's arguments for server/main.ts: the run's prebuilt bundle (test/harness/server-bundle.ts), else the source under tsx. */
export function serverEntryArgs(): string[] {
  return entryArgs('server/main.ts');
}

export class ServerProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<number | null> = Promise.resolve(null);
  url = '';
  cookie = '';
  /** the parsed log lines of every run, the first `maxLogs` of them */
  readonly logs: Record<string, unknown>[] = [];

  constructor(
    /** the throw-away data directory, removed by close() */
    readonly dir: string,
    private readonly configFile: string,
    /** how errors name this server */
    readonly name = 'server',
    private readonly maxLogs = Number.POSITIVE_INFINITY,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts the process and waits until it listens; logs in as admin (a reset connection on a loaded machine is tried again). */
  async start(timeoutMs = 60_000): Promise<void> {
    const child = spawn(process.execPath, [...serverEntryArgs(), this.configFile], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, GW_LOG_LEVEL: 'info' },
    });
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', (code) => r(code)));
    let buf = '';
    let stderr = '';
    const listening = new Promise<string>((resolve, reject) => {
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          try {
            const rec = JSON.parse(line) as Record<string, unknown>;
            if (this.logs.length < this.maxLogs) this.logs.push(rec);
            if (typeof rec.url === 'string' && String(rec.msg).startsWith('gridwatch dashboard at')) resolve(rec.url);
          } catch {
            // not a log line
          }
        }
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
      void this.exited.then((code) => reject(new Error(`${this.name} exited (${code}) before listening: ${stderr}\n${this.logTail()}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    this.url = await Promise.race([
      listening,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name} not listening in time\n${this.logTail()}`)), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    for (let attempt = 1; ; attempt++) {
      try {
        this.cookie = await login(this.url, 'admin', TEST_PASSWORD);
        break;
      } catch (e) {
        if (attempt >= 3 || !this.child) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** The last `n` log lines, for an error message. */
  logTail(n = 15): string {
    return this.logs
      .slice(-n)
      .map((l) => JSON.stringify(l))
      .join('\n');
  }

  /** SIGKILL: no stop, no drain, no final save. */
  async kill9(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.child = null;
  }

  /** SIGTERM: the graceful stop; resolves with the exit code, or kills and throws when it takes longer than `timeoutMs`. */
  async term(timeoutMs = 90_000): Promise<number | null> {
    if (!this.child) return null;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([this.exited, new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)))]);
    clearTimeout(timer);
    if (code === 'late') {
      await this.kill9();
      throw new Error(`${this.name}: graceful stop did not finish in time`);
    }
    this.child = null;
    return code;
  }

  /** A JSON request as admin; a status other than 2xx throws with the answer. */
  async request(p: string, init: RequestInit = {}): Promise<any> {
    const res = await fetch(this.url + p, { ...init, headers: { cookie: this.cookie, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${p}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  get(p: string): Promise<any> {
    return this.request(p);
  }

  async close(): Promise<void> {
    await this.kill9();
    await rm(this.dir, { recursive: true, force: true });
  }
}
