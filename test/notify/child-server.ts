/** The server as a real child process (embedded broker, DuckDB) with a notify section: for kill -9 tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { login, TEST_PASSWORD } from '../support/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export class NotifyChildServer {
  private child: ChildProcess | null = null;
  private exited: Promise<number | null> = Promise.resolve(null);
  url = '';
  cookie = '';
  readonly logs: Record<string, unknown>[] = [];

  private constructor(readonly dir: string, private readonly configFile: string) {}

  static async create(notify: Record<string, unknown>): Promise<NotifyChildServer> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-notify-kill-'));
    const config = {
      http: { host: '127.0.0.1', port: 0 },
      mqtt: { embedded: { host: '127.0.0.1', port: 0 } },
      dataDir: dir,
      auth: { adminPassword: TEST_PASSWORD },
      notify,
      priority: os.getPriority(),
    };
    const configFile = path.join(dir, 'config.json');
    await writeFile(configFile, JSON.stringify(config));
    return new NotifyChildServer(dir, configFile);
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'server', 'main.ts'), this.configFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GW_LOG_LEVEL: 'info' } });
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
            this.logs.push(rec);
            if (typeof rec.url === 'string' && String(rec.msg).startsWith('gridwatch dashboard at')) resolve(rec.url);
          } catch {
            // not a log line
          }
        }
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
      void this.exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
    });
    let timer: NodeJS.Timeout | undefined;
    this.url = await Promise.race([listening, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('server not listening in time')), timeoutMs)))]).finally(() => clearTimeout(timer));
    this.cookie = await login(this.url, 'admin', TEST_PASSWORD);
  }

  async kill9(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.child = null;
  }

  async request(p: string, init: RequestInit = {}): Promise<any> {
    const res = await fetch(this.url + p, { ...init, headers: { cookie: this.cookie, ...(init.body ? { 'content-type': 'application/json' } : {}) } });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${p}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  async close(): Promise<void> {
    await this.kill9();
    await rm(this.dir, { recursive: true, force: true });
  }
}
