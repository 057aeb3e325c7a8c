/**
 * Command-line entry points (simulator, edge agent, server): `--help` prints
 * the usage and exits 0; an unknown flag is a one-line reason plus the usage
 * on stderr and exit 2, never a stack trace.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GW_LOG_LEVEL: 'info' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

const ENTRIES = [
  { script: 'simulators/main.ts', usage: /usage: tsx simulators\/main\.ts/ },
  { script: 'edge-agent/main.ts', usage: /usage: tsx edge-agent\/main\.ts/ },
  { script: 'server/main.ts', usage: /usage: tsx server\/main\.ts/ },
];

describe('command-line entry points', () => {
  for (const { script, usage } of ENTRIES) {
    it(`${script} --help prints the usage and exits 0`, { timeout: 60_000 }, async () => {
      for (const flag of ['--help', '-h']) {
        const r = await run(script, [flag]);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(usage);
        expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
      }
    });

    it(`${script} with an unknown flag says which and exits 2`, { timeout: 60_000 }, async () => {
      const r = await run(script, ['--no-such-flag']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--no-such-flag/);
      expect(r.stderr).toMatch(usage);
      expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+|TypeError|ERR_PARSE_ARGS/);
      expect(r.stdout).toBe('');
    });
  }
});
