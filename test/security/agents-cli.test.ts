/**
 * scripts/agents.ts as an operator runs it: help, exit codes, clear errors,
 * passwords printed once and never stored in clear, the data dir's files
 * mode 600, the Mosquitto files in the format Mosquitto reads.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyMqttPassword } from '../../server/mqtt-credentials.ts';
import { entryArgs } from '../support/entry.ts';

let dir = '';

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...entryArgs('scripts/agents.ts'), ...args], { env: { ...process.env, GW_DATA_DIR: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-agents-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('scripts/agents.ts', () => {
  it('--help exits 0; no command or an unknown one exits 2 with a pointer to --help', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/provision <agent> --site S/);
    const none = await cli();
    expect(none.code).toBe(2);
    const bad = await cli('explode', '--data-dir', dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown command "explode"');
    const noSite = await cli('provision', 'cli-a', '--data-dir', dir);
    expect(noSite.code).toBe(2);
    expect(noSite.stderr).toContain('provision needs --site');
    expect((await cli('list', '--bogus', '--data-dir', dir)).code).toBe(2);
  }, 60_000);

  it('provision prints the password once (stdout), keeps only its hash, files mode 600; refusals exit 1 with the error code', async () => {
    const p = await cli('provision', 'cli-a', '--site', 'cli-s', '--data-dir', dir);
    expect(p.code).toBe(0);
    const password = p.stdout.trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const file = await readFile(path.join(dir, 'agents.json'), 'utf8');
    expect(file).not.toContain(password);
    const stored = (JSON.parse(file) as { agents: Array<{ passwordHash: string }> }).agents[0]!.passwordHash;
    expect(await verifyMqttPassword(password, stored)).toBe(true);
    for (const f of ['agents.json', 'mqtt-server.secret']) expect((await stat(path.join(dir, f))).mode & 0o777, f).toBe(0o600);
    const again = await cli('provision', 'cli-a', '--site', 'cli-s', '--data-dir', dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('GW_ERR_AGENT_EXISTS');
    const bad = await cli('provision', 'a+b', '--site', 'cli-s', '--data-dir', dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('GW_ERR_AGENT_INVALID');
    expect((await cli('rotate', 'nobody', '--data-dir', dir)).stderr).toContain('GW_ERR_AGENT_UNKNOWN');
  }, 60_000);

  it('rotate, revoke, list --json and the Mosquitto export (revoked agents left out)', async () => {
    await cli('provision', 'cli-b', '--site', 'cli-s', '--data-dir', dir);
    const r = await cli('rotate', 'cli-b', '--json', '--data-dir', dir);
    expect(r.code).toBe(0);
    const rotated = JSON.parse(r.stdout) as { password: string; agent: { rotatedAt: number } };
    expect(rotated.agent.rotatedAt).toBeGreaterThan(0);
    expect((await cli('revoke', 'cli-a', '--data-dir', dir)).code).toBe(0);
    expect((await cli('rotate', 'cli-a', '--data-dir', dir)).stderr).toContain('GW_ERR_AGENT_REVOKED');
    const list = JSON.parse((await cli('list', '--json', '--data-dir', dir)).stdout) as { agents: Array<{ agent: string; revoked: boolean }> };
    expect(list.agents.map((a) => [a.agent, a.revoked])).toEqual([['cli-a', true], ['cli-b', false]]);
    expect(JSON.stringify(list)).not.toContain('$7$');
    const out = path.join(dir, 'mosquitto');
    const m = await cli('mosquitto', '--out', out, '--server-users', '2', '--data-dir', dir);
    expect(m.code).toBe(0);
    const passwd = await readFile(path.join(out, 'passwd'), 'utf8');
    expect(passwd.trim().split('\n').map((l) => l.split(':')[0])).toEqual(['gridwatch-server', 'gridwatch-server-2', 'cli-b']);
    const hashB = passwd.split('\n').find((l) => l.startsWith('cli-b:'))!.slice('cli-b:'.length);
    expect(await verifyMqttPassword(rotated.password, hashB)).toBe(true);
    const acl = await readFile(path.join(out, 'acl'), 'utf8');
    expect(acl).toContain('user cli-b\ntopic write gridwatch/v1/cli-s/cli-b/readings');
    expect(acl).not.toContain('cli-a');
    expect((await stat(path.join(out, 'passwd'))).mode & 0o777).toBe(0o600);
    expect((await cli('mosquitto', '--out', out, '--server-users', 'many', '--data-dir', dir)).code).toBe(2);
    const sc = await cli('server-credential', '--data-dir', dir);
    expect(sc.stdout).toMatch(/^GW_MQTT_USERNAME=gridwatch-server\nGW_MQTT_PASSWORD=\S{32,}\n$/);
  }, 60_000);

  it('a damaged agents.json is reported with its path and nothing is written', async () => {
    const bad = await mkdtemp(path.join(os.tmpdir(), 'gw-agents-bad-'));
    try {
      const { writeFile } = await import('node:fs/promises');
      await writeFile(path.join(bad, 'agents.json'), '{"agents": [{"agent": "x"}]}');
      const r = await cli('provision', 'y', '--site', 's', '--data-dir', bad);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('GW_ERR_AGENT_FILE');
      expect(r.stderr).toContain('agents[0]');
      expect(await readFile(path.join(bad, 'agents.json'), 'utf8')).toBe('{"agents": [{"agent": "x"}]}');
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  }, 60_000);
});
