/**
 * The demo's log: on a terminal (a real pty, through `script`) every line is
 * readable text — the server's, the storyline's and the demo's own, none of
 * them JSON; through a pipe every line is one JSON object.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryArgs } from '../support/entry.ts';
import { startDemo, stopDemo } from '../support/demo.ts';
import { eventually } from '../support/ws-client.ts';

let dir = '';
const env = (sub: string) => ({ GW_DATA_DIR: path.join(dir, sub), GW_ADMIN_PASSWORD: 'demo-log-password-1', GW_DEMO_ROOMS: '0', GW_DEMO_MODBUS_BASE_PORT: '0', GW_HTTP_PORT: '0', GW_MQTT_EMBEDDED_PORT: '0' });
// ANSI colour codes of pino-pretty
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-demo-log-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the demo log', () => {
  it('is readable text on a terminal', { timeout: 150_000 }, async () => {
    const child = spawn('script', ['-qec', [process.execPath, ...entryArgs('scripts/run-all.ts')].join(' '), '/dev/null'], {
      env: { ...process.env, ...env('tty') },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      // the door opens at 5 s: the storyline's line and the server's alarm transition follow
      await eventually(() => /alarm transition/.test(out) || undefined, 120_000, `an alarm transition on the terminal; got ${plain(out).slice(-800)}`);
      const lines = plain(out).split(/\r?\n/).filter((l) => l.trim());
      expect(lines.filter((l) => l.trimStart().startsWith('{'))).toEqual([]);
      for (const msg of ['demo grid generated', 'gridwatch is running', 'sensor event', 'alarm transition'])
        expect(lines.some((l) => /^\[\d\d:\d\d:\d\d\] (INFO|WARN)/.test(l) && l.includes(msg)), msg).toBe(true);
      // the server's child loggers too, with their component
      expect(lines.some((l) => l.includes('alarm rules loaded') && l.includes('component'))).toBe(true);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid!, 'SIGINT');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
  });

  it('is one JSON object per line through a pipe', { timeout: 150_000 }, async () => {
    const demo = await startDemo(env('pipe'));
    try {
      await eventually(() => demo.lines().some((l) => l.includes('sensor event')) || undefined, 60_000, 'the storyline\'s first event');
    } finally {
      expect(await stopDemo(demo)).toBe(0);
    }
    const lines = demo.lines();
    for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
    expect(lines.some((l) => (JSON.parse(l) as { component?: string }).component === 'server')).toBe(true);
  });
});
