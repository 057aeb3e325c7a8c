/**
 * The server refuses to start with a hostile risk model (GW_RISK_FILE): exit
 * code 2 and every error on stderr, located by indicator id — before it
 * opens a store or a port.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serverEntryArgs } from '../support/server-process.ts';

function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, serverEntryArgs(), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

describe('risk model at server start', () => {
  it('unknown indicator, weights that do not sum, negative and inverted values: exit 2 with every error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-risk-start-'));
    const file = path.join(dir, 'risk.yaml');
    writeFileSync(file, [
      'thresholds: { yellow: -5, red: 30 }',
      'indicators:',
      '  - { id: customer-happiness, weight: 0.5, good: 0, bad: 1 }',
      '  - { id: ack-time-mean, weight: 0.3, good: -1, bad: 30 }',
      '  - { id: voltage-qualification, weight: 0.1, good: 95, bad: 99.5 }',
      '',
    ].join('\n'));
    const r = await run({ GW_RISK_FILE: file, GW_DATA_DIR: dir, GW_HTTP_PORT: '0' });
    expect(r.code).toBe(2);
    for (const line of [
      `invalid risk model ${file}:`,
      'indicator "customer-happiness" (indicators[0]): unknown indicator',
      'indicator "ack-time-mean" (indicators[1]).good: must not be negative',
      'indicator "voltage-qualification" (indicators[2]).bad: must be below good (95)',
      'indicators: weights sum to 0.9, expected 1',
      'thresholds.yellow: must be a score, 0–100',
    ]) expect(r.stderr).toContain(line);
  }, 60_000);
});
