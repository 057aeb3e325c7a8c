/** What the benchmarks share: a real server process to measure, and how figures are printed. */
import { spawn, type ChildProcess } from 'node:child_process';

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
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', 'server/main.ts'], {
    env: { ...process.env, ...env, GW_LOG_LEVEL: 'info', GW_ADMIN_PASSWORD: BENCH_PASSWORD },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`server did not start: ${buf.slice(-2000)}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(/"url":"(http:\/\/[^"]+)"/);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${buf.slice(-2000)}`)));
  });
  // the server's warnings and errors go to our stderr; the rest is dropped
  child.stdout!.on('data', (d: Buffer) => {
    for (const line of d.toString().split('\n')) if (/"level":[4-6]0/.test(line)) process.stderr.write(`server: ${line.slice(0, 500)}\n`);
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
