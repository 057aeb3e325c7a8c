/**
 * The agent's memory does not grow with the number of requests: reads over a
 * connection that stays up for weeks must leave nothing behind (each read
 * used to leave its reply and a promise chain attached to the link, about
 * 1 kB a read: 1.6 MB a second with 1,024 meters), and a connection holds no
 * more once it has made hundreds of reads than after its first: nothing of an
 * answered request is kept (modbus-serial, the client before ours, kept its
 * last 256 requests with their answers: about 440 kB per gateway, 11 MB with
 * 32 gateways). Measured in a process of its own with forced full
 * collections (heap-probe.ts), not timed; without the JIT (`--jitless`), so
 * that code compiled as the reads warm up is not counted as data.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './support.ts';

interface Probe {
  reads: number;
  connects: number;
  /** live heap after 500 more reads than after the first */
  warmupRetainedBytes: number;
  retainedBytes: number;
  perReadBytes: number;
  modbusSerialLoaded: boolean;
}

function probe(reads: number): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--jitless', '--expose-gc', '--import', 'tsx', path.join(REPO, 'test/edge-agent/heap-probe.ts'), String(reads)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`heap probe exited ${code}: ${out}\n${err}`));
      else resolve(JSON.parse(line) as Probe);
    });
  });
}

describe('agent memory', () => {
  it('reads over one long-lived Modbus TCP connection retain nothing per read', { timeout: 180_000 }, async () => {
    const r = await probe(4000);
    // one connection throughout: the link was never dropped, which would have freed what it held
    expect(r.connects).toBe(1);
    // a retained read costs ~1 kB; allow noise far below that
    expect(r.perReadBytes).toBeLessThan(100);
    // 256 kept requests cost ~440 kB; what is left is the probe's own noise
    expect(r.warmupRetainedBytes).toBeLessThan(150_000);
    // the Modbus RTU client's package is not even loaded for Modbus TCP
    expect(r.modbusSerialLoaded).toBe(false);
  });
});
