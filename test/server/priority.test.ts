/**
 * The event-loop thread's priority: set once the server has started, put
 * back when it stops; without the right to raise it (no CAP_SYS_NICE) the
 * server still starts, and says why it runs at the default priority.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServerConfig } from '../../server/index.ts';
import { startTestServer } from '../support/server.ts';
import { serverEntryArgs } from '../support/server-process.ts';

describe('event-loop thread priority', () => {
  it('is set on this thread once the server has started, and put back when it stops', async () => {
    const before = os.getPriority();
    const ts = await startTestServer({ extra: { priority: before - 3 } });
    try {
      expect(os.getPriority()).toBe(before - 3);
    } finally {
      await ts.close();
    }
    expect(os.getPriority()).toBe(before);
  });

  it('defaults to nice -10; out-of-range values are refused with their path', () => {
    expect(loadServerConfig({}).priority).toBe(-10);
    expect(() => loadServerConfig({ priority: -21 })).toThrow(/priority/);
    expect(() => loadServerConfig({ priority: 1.5 })).toThrow(/priority/);
  });

  it('without CAP_SYS_NICE the server starts at the default priority and logs why', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'gw-prio-'));
    const inherited = os.getPriority();
    // a root process whose capability bounding set lacks CAP_SYS_NICE: setpriority(-10) gets EACCES
    const child = spawn('setpriv', ['--bounding-set=-sys_nice', process.execPath, ...serverEntryArgs()], {
      env: { ...process.env, GW_HTTP_PORT: '0', GW_MQTT_EMBEDDED_PORT: '0', GW_DATA_DIR: dataDir, GW_ADMIN_PASSWORD: 'priority-test-1', GW_PRIORITY: '-10', GW_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`server did not start:\n${out.slice(-3000)}`)), 30_000);
        child.stdout.on('data', () => {
          if (!/gridwatch dashboard at/.test(out)) return;
          clearTimeout(t);
          resolve();
        });
        child.once('exit', (code) => reject(new Error(`server exited ${code}:\n${out.slice(-3000)}`)));
      });
      const warn = out.split('\n').find((l) => l.includes('cannot set the event-loop thread priority'));
      expect(warn, out.slice(-3000)).toBeDefined();
      expect(JSON.parse(warn!)).toMatchObject({ level: 40, nice: -10, current: inherited, code: 'EACCES' });
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
