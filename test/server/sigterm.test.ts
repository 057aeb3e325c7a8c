/**
 * SIGTERM while the broker goes down at the same moment (as `docker compose
 * down` stops both): the real server process (server/main.ts, bundled for the run) with
 * a private Mosquitto. The process must exit promptly, having saved the
 * alarm rule state, instead of waiting for a broker that is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readingsTopic } from '../../contract/index.ts';
import { startMosquitto, type ServiceHandle } from '../harness/index.ts';
import { eventually } from '../support/ws-client.ts';
import { serverEntryArgs } from '../support/server-process.ts';

const SITE = 'sigterm-site';
const AGENT = 'sigterm-agent';
const TOPOLOGY = `
sites:
  - id: ${SITE}
    name: SIGTERM
    rooms:
      - id: r1
        name: Room 1
        agent: ${AGENT}
        transformers:
          - id: t1
            name: T1
            ratedKva: 630
            lines:
              - { id: l1, name: L1, ratedCurrentA: 100, meter: sig-m1 }
`;

let broker: ServiceHandle | null = null;
let child: ChildProcess | null = null;
let dir = '';
/** server processes to make sure of at the end (a wrapper that exits on a signal can leave its child running) */
const serverPids: number[] = [];

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const pid of serverPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  await broker?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('server process stop', () => {
  it('exits within 10 s of SIGTERM when the broker is killed at the same moment, with the rule state saved', async () => {
    broker = await startMosquitto();
    dir = await mkdtemp(path.join(os.tmpdir(), 'gw-sigterm-'));
    await writeFile(path.join(dir, 'topology.yaml'), TOPOLOGY);
    // the only save of the rule state is the one at stop
    await writeFile(path.join(dir, 'server.yaml'), 'alarms:\n  persistIntervalMs: 3600000\n');
    const proc = spawn(process.execPath, [...serverEntryArgs(), path.join(dir, 'server.yaml')], {
      env: {
        ...process.env,
        GW_HTTP_PORT: '0',
        GW_MQTT_URL: broker.url,
        GW_DATA_DIR: dir,
        GW_TOPOLOGY_FILE: path.join(dir, 'topology.yaml'),
        GW_ADMIN_PASSWORD: 'sigterm-password-1',
        GW_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => /gridwatch dashboard at/.test(out), 60_000, `server started: ${out.slice(-2000)}`);

    // readings, so the rules hold state for the meter
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'sigterm-pub' });
    const send = (seq: number) =>
      pub.publishAsync(readingsTopic(SITE, AGENT), JSON.stringify({ agent: AGENT, readings: [{ device: 'sig-m1', ts: Date.now() - 100 + seq, seq, v: { ia: 50 }, q: 'good' }] }), { qos: 1 });
    await send(1);
    await eventually(() => /"msg":"mqtt connected"/.test(out), 10_000, 'connected');
    await new Promise((r) => setTimeout(r, 1000));
    // more readings right before the broker dies: they are stored after it is gone, and their watermark waits to be sent
    await Promise.all([2, 3, 4, 5].map(send));
    const exited = new Promise<number>((resolve) => proc.once('exit', () => resolve(Date.now())));
    // the broker goes and the signal follows as soon as the server has seen it go (as `docker compose down` stops both)
    await broker.kill();
    await eventually(() => /"msg":"mqtt offline"|"msg":"mqtt error"/.test(out), 10_000, 'the server saw the broker go');
    const signalledAt = Date.now();
    proc.kill('SIGTERM');
    const exitedAt = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-1), 30_000))]);
    if (exitedAt < 0) proc.kill('SIGKILL');
    const tookMs = exitedAt < 0 ? Infinity : exitedAt - signalledAt;
    if (process.env.GW_TEST_LOG) process.stderr.write(out.slice(-4000));
    process.stderr.write(`[sigterm] exited ${tookMs} ms after SIGTERM with the broker killed (code ${proc.exitCode})\n`);
    expect(tookMs, out.slice(-3000)).toBeLessThan(10_000);
    expect(proc.exitCode).toBe(0);
    const saved = JSON.parse(await readFile(path.join(dir, 'alarm-rule-state.json'), 'utf8')) as { savedAt: number };
    expect(saved.savedAt).toBeGreaterThanOrEqual(signalledAt);
  }, 120_000);

  it("the container's command is the server process itself: SIGTERM to it runs the stop (npx exited and left the server running)", async () => {
    const compose = parseYaml(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, { command: string[] }> };
    const [cmd, ...args] = compose.services.server!.command;
    const data = await mkdtemp(path.join(os.tmpdir(), 'gw-sigterm-cmd-'));
    try {
      const proc = spawn(cmd === 'node' ? process.execPath : cmd!, args, {
        env: { ...process.env, GW_HTTP_PORT: '0', GW_MQTT_EMBEDDED_PORT: '0', GW_DATA_DIR: data, GW_ADMIN_PASSWORD: 'sigterm-password-1', GW_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      await eventually(() => /gridwatch dashboard at/.test(out), 60_000, 'server started');
      const serverPid = Number(/"pid":(\d+)/.exec(out)![1]);
      serverPids.push(serverPid);
      const signalledAt = Date.now();
      proc.kill('SIGTERM');
      await eventually(() => !alive(serverPid), 15_000, `the server process ${serverPid} gone: ${out.slice(-1500)}`);
      expect(out).toMatch(/"signal":"SIGTERM","msg":"stopping"/);
      const saved = JSON.parse(await readFile(path.join(data, 'alarm-rule-state.json'), 'utf8')) as { savedAt: number };
      expect(saved.savedAt).toBeGreaterThanOrEqual(signalledAt);
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  }, 120_000);
});
