/** `npm start` (scripts/run-all.ts) as a child process, the way a user runs it, for the demo's tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { entryArgs } from './entry.ts';

export interface Demo {
  child: ChildProcess;
  url: string;
  /** every line it printed so far */
  lines: () => string[];
}

/** Starts the demo and resolves once it says it is running (its log is JSON: stdout is a pipe). */
export async function startDemo(env: Record<string, string>, startTimeoutMs = 120_000): Promise<Demo> {
  const child = spawn(process.execPath, entryArgs('scripts/run-all.ts'), {
    env: { ...process.env, GW_HTTP_PORT: '0', GW_MQTT_EMBEDDED_PORT: '0', GW_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the demo did not start:\n${out.slice(-3000)}`)), startTimeoutMs);
    child.stdout!.on('data', () => {
      const line = out.split('\n').find((l) => l.includes('gridwatch is running'));
      if (!line) return;
      clearTimeout(t);
      resolve((JSON.parse(line) as { url: string }).url.replace(/\/$/, ''));
    });
    child.once('exit', (code) => reject(new Error(`the demo exited ${code}:\n${out.slice(-3000)}`)));
  });
  return { child, url, lines: () => out.split('\n').filter(Boolean) };
}

/** Ctrl-C; resolves with the exit code */
export async function stopDemo(d: Demo): Promise<number | null> {
  if (d.child.exitCode !== null) return d.child.exitCode;
  const exited = new Promise<number | null>((r) => d.child.once('exit', (code) => r(code)));
  d.child.kill('SIGINT');
  return exited;
}
