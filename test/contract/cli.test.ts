/**
 * The command line of the server and the edge agent (contract/cli.ts): one
 * optional config path or --help. The parse itself, then both entry points run
 * as processes: --help exits 0 with the usage on stdout; an unknown option or
 * two paths exit 2 with the reason and the usage on stderr.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseConfigArg } from '../../contract/cli.ts';

function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('config file argument', () => {
  it('parses help, one path, none, an option and two paths', () => {
    expect(parseConfigArg([])).toEqual({ kind: 'path', path: undefined });
    expect(parseConfigArg(['gw.yaml'])).toEqual({ kind: 'path', path: 'gw.yaml' });
    expect(parseConfigArg(['gw.yaml', '-h'])).toEqual({ kind: 'help' });
    expect(parseConfigArg(['--help'])).toEqual({ kind: 'help' });
    expect(parseConfigArg(['--port=1', 'gw.yaml'])).toEqual({ kind: 'invalid', reason: 'unknown option --port=1' });
    expect(parseConfigArg(['a.yaml', 'b.yaml'])).toEqual({ kind: 'invalid', reason: 'one config file only' });
  });

  it.each([
    ['server/main.ts', 'usage: tsx server/main.ts'],
    ['edge-agent/main.ts', 'usage: tsx edge-agent/main.ts'],
  ])('%s: --help exits 0, a bad command line exits 2 and says why', async (script, usage) => {
    const help = await run(script, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(usage);
    const bad = await run(script, ['--nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown option --nope');
    expect(bad.stderr).toContain(usage);
    const two = await run(script, ['a.yaml', 'b.yaml']);
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('one config file only');
  }, 60_000);
});
