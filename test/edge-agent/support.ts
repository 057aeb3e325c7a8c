/** Helpers shared by the edge-agent integration tests (not a test file). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reading } from '../../contract/index.ts';
import { createAgent, loadAgentConfig, MemorySpool, type AgentConfigInput, type Dlt645ProfileRegistry } from '../../edge-agent/index.ts';
import { createMeterModel, METER_PROFILES, startModbusSimulator, type ModbusSimulator } from '../../simulators/index.ts';
import { influxQuery } from '../harness/index.ts';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

export function tmpDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

import { memoryLog } from '../support/logger.ts';
export { memoryLog };

/**
 * An agent whose broker is not there (port 1, a reconnect a minute): what it
 * reads stays in its in-memory spool, which the test reads. `doc` is the
 * config without site and mqtt.
 */
export function spoolOnlyAgent(doc: Record<string, unknown>, opts: { dlt645Profiles?: Dlt645ProfileRegistry; clock?: () => number } = {}) {
  const spool = new MemorySpool({ initialSeq: 0 });
  const { log, lines } = memoryLog();
  const noBroker = { url: 'mqtt://127.0.0.1:1', reconnectPeriodMs: 60_000, reconnectMaxMs: 60_000 };
  const config = loadAgentConfig({ site: 's', mqtt: noBroker, ...doc }, opts.dlt645Profiles ? { dlt645Profiles: opts.dlt645Profiles } : {});
  const agent = createAgent(config, { log, spool, ...opts });
  const readings = (keep: (r: Reading) => boolean = () => true): Reading[] => spool.read(0, 1_000_000).filter(keep);
  return { agent, spool, lines, readings };
}

/** `ports` gateways with `unitsPerPort` DTSU666 meters each (unit ids 1..n), like RS-485 gateways. */
export async function startGateways(ports: number, unitsPerPort: number, seed = 1): Promise<ModbusSimulator[]> {
  const sims: ModbusSimulator[] = [];
  for (let p = 0; p < ports; p++) {
    sims.push(
      await startModbusSimulator({
        port: 0,
        units: Array.from({ length: unitsPerPort }, (_, u) => ({
          unitId: u + 1,
          model: createMeterModel({ profile: METER_PROFILES[(p + u) % METER_PROFILES.length]!, seed: seed * 1000 + p * 100 + u }),
        })),
      }),
    );
  }
  return sims;
}

export type DeviceInput = NonNullable<AgentConfigInput['devices']>[number];

/** One device per simulated unit: ids `m<port>-<unit>`. */
export function gatewayDevices(sims: readonly ModbusSimulator[], unitsPerPort: number, extra: Partial<DeviceInput> = {}): DeviceInput[] {
  return sims.flatMap((sim, p) =>
    Array.from({ length: unitsPerPort }, (_, u) => ({
      id: `m${p}-${u + 1}`,
      profile: 'dtsu666',
      transport: { kind: 'tcp' as const, host: '127.0.0.1', port: sim.port },
      unitId: u + 1,
      intervalMs: 1000,
      timeoutMs: 500,
      ...extra,
    })),
  );
}

export interface StoredPoint {
  ts: number;
  quality: string;
  late: boolean;
}

/** Every point of a site in InfluxDB, by device, in time order. */
export async function storedBySite(influxUrl: string, db: string, site: string): Promise<Map<string, StoredPoint[]>> {
  const res = await influxQuery(influxUrl, db, `SELECT "quality", "late" FROM "reading" WHERE "site" = '${site}' GROUP BY "device"`);
  const out = new Map<string, StoredPoint[]>();
  for (const s of res[0]?.series ?? []) {
    const device = s.tags?.device ?? '';
    out.set(
      device,
      s.values.map((v) => ({ ts: v[0] as number, quality: v[1] as string, late: v[2] === true })),
    );
  }
  return out;
}

/** Largest gap between consecutive timestamps, with where it is. */
export function largestGap(points: readonly StoredPoint[]): { gapMs: number; at: number } {
  let gapMs = 0;
  let at = 0;
  for (let i = 1; i < points.length; i++) {
    const d = points[i]!.ts - points[i - 1]!.ts;
    if (d > gapMs) {
      gapMs = d;
      at = points[i - 1]!.ts;
    }
  }
  return { gapMs, at };
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export interface AgentProcess {
  child: ChildProcess;
  /** resolves with the exit code/signal */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/**
 * The edge agent as its own process: `node --import tsx edge-agent/main.ts <config>`.
 * Not the `tsx` CLI: that runs the script in a second process, and a SIGKILL
 * of the CLI would leave the agent itself running.
 */
export function spawnAgent(configFile: string, env: Record<string, string> = {}): AgentProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'edge-agent/main.ts'), configFile], {
    cwd: REPO,
    env: { ...process.env, GW_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  for (const s of [child.stdout, child.stderr]) s?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, exited, output: () => out };
}

/** A virtual serial cable: two ptys joined by socat, as `<dir>/a` and `<dir>/b`. */
export async function serialPair(dir: string): Promise<{ a: string; b: string; close: () => Promise<void> }> {
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const child = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  children.add(child);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const { existsSync } = await import('node:fs');
  await waitFor('socat ptys', () => existsSync(a) && existsSync(b), 5000, 10);
  return {
    a,
    b,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
      children.delete(child);
    },
  };
}
