/**
 * The agent's own logger (edge-agent/log.ts): pino's line format, levels,
 * child bindings, errors, values JSON.stringify refuses, and whole lines
 * through a pipe whose reader is slow.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../edge-agent/index.ts';
import { REPO, sleep, tmpDir, waitFor } from './support.ts';

const tmp = tmpDir('gw-log-');
afterAll(() => tmp.remove());

let files = 0;
/** a logger writing into a file of its own, and the lines written so far */
function fileLog(level = 'trace') {
  const file = path.join(tmp.dir, `log-${files++}.ndjson`);
  const fd = openSync(file, 'w');
  const log = createLogger({ level, fd });
  const text = () => readFileSync(file, 'utf8');
  const lines = () => text().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, text, lines, close: () => closeSync(fd) };
}

function failure(): Error {
  const inner = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED', port: 502 });
  return Object.assign(new Error('cannot open the bus', { cause: inner }), { code: 'GW_ERR_DLT645_CONNECT', retryable: true });
}

describe('edge agent logger', () => {
  it("writes pino's default line: level, time, pid, hostname, child bindings, fields, msg", () => {
    const { log, lines, close } = fileLog('info');
    const before = Date.now();
    const device = log.child({ component: 'edge-agent' }).child({ deviceId: 'm1' });
    device.info({ from: 'unknown', to: 'good', polls: 3, ok: true, note: 'say "hi"\n', skipped: undefined }, 'device state changed');
    log.warn('no spool directory configured');
    close();
    const [first, second] = lines();
    expect(Object.keys(first!)).toEqual(['level', 'time', 'pid', 'hostname', 'component', 'deviceId', 'from', 'to', 'polls', 'ok', 'note', 'msg']);
    expect(first).toMatchObject({ level: 30, pid: process.pid, hostname: os.hostname(), component: 'edge-agent', deviceId: 'm1', polls: 3, ok: true, note: 'say "hi"\n', msg: 'device state changed' });
    expect(first!.time).toBeGreaterThanOrEqual(before);
    expect(first!.time).toBeLessThanOrEqual(Date.now());
    expect(second).toMatchObject({ level: 40, msg: 'no spool directory configured' });
    expect(second).not.toHaveProperty('component');
  });

  it('writes the same bytes as pino for every call shape the agent uses (time aside)', () => {
    const { log, text, close } = fileLog('trace');
    const ours: string[] = [];
    const theirs: string[] = [];
    const p = pino({ level: 'trace' }, { write: (s: string) => theirs.push(s) });
    const err = failure();
    const loop = new Error('loop');
    (loop as { cause?: unknown }).cause = loop;
    const calls: ((l: Logger) => void)[] = [
      (l) => l.info({ agent: 'room-1', site: 's', devices: 3 }, 'edge agent started'),
      (l) => l.child({ part: 'modbus' }).child({ host: '127.0.0.1', port: 502 }).warn({ from: 'up', to: 'down', reason: 'closed' }, 'modbus connection state changed'),
      (l) => l.error({ err, file: '/var/spool/x' }, 'spool write failed'),
      (l) => l.error(err),
      (l) => l.warn({ err }),
      (l) => l.warn({ err: loop, code: 'x' }, 'a cause cycle'),
      (l) => l.warn({ err: 'timeout as text', timeoutMs: 5000 }, 'mqtt: publish failed'),
      (l) => l.debug({ list: [1, 'two', null, { three: 3 }], nested: { a: { b: [] } }, nan: Number.NaN, date: new Date(0) }, 'shapes'),
      (l) => l.fatal('no config'),
      (l) => l.trace({}, 'empty'),
    ];
    for (const call of calls) {
      call(log);
      call(p as unknown as Logger);
    }
    close();
    ours.push(...text().split(/(?<=\n)/));
    const noTime = (s: string) => s.replace(/"time":\d+/, '"time":0');
    expect(ours.map(noTime)).toEqual(theirs.map(noTime));
    expect(ours).toHaveLength(calls.length);
  });

  it('filters by level; a child follows its parent until it gets a level of its own', () => {
    const { log, lines, close } = fileLog('warn');
    const child = log.child({ part: 'uplink' });
    expect(log.level).toBe('warn');
    expect(child.level).toBe('warn');
    child.info('hidden');
    child.debug('hidden');
    child.warn('shown 1');
    expect(child.isLevelEnabled('info')).toBe(false);
    expect(child.isLevelEnabled('error')).toBe(true);
    log.level = 'debug';
    expect(child.level).toBe('debug');
    child.debug('shown 2');
    child.trace('hidden');
    child.level = 'error';
    child.warn('hidden');
    log.warn('shown 3');
    log.level = 'silent';
    log.fatal('hidden');
    child.error('shown 4');
    expect(log.isLevelEnabled('fatal')).toBe(false);
    expect(log.isLevelEnabled('nonsense')).toBe(false);
    close();
    expect(lines().map((l) => l.msg)).toEqual(['shown 1', 'shown 2', 'shown 3', 'shown 4']);
    expect(lines().map((l) => l.level)).toEqual([40, 20, 40, 50]);
  });

  it('refuses an unknown level name with a clear error', () => {
    expect(() => createLogger({ level: 'verbose' })).toThrow(/unknown log level "verbose": one of trace, debug, info, warn, error, fatal, silent/);
    expect(() => createLogger({ level: 'toString' })).toThrow(expect.objectContaining({ code: 'GW_ERR_CONFIG_INVALID' }));
    const { log, close } = fileLog('info');
    expect(() => {
      log.level = 'loud';
    }).toThrow(/unknown log level "loud"/);
    expect(log.level).toBe('info');
    close();
  });

  it('the agent and discover refuse an unknown GW_LOG_LEVEL: exit 2, the reason on stderr', { timeout: 60_000 }, () => {
    const config = path.join(tmp.dir, 'agent.json');
    writeFileSync(config, JSON.stringify({ agent: 'a', site: 's', mqtt: { url: 'mqtt://127.0.0.1:1' }, devices: [] }));
    for (const args of [['edge-agent/main.ts', config], ['edge-agent/discover.ts', '--dlt645', '127.0.0.1:1']]) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, GW_LOG_LEVEL: 'verbose' }, timeout: 50_000 });
      expect(run.status, args[0]).toBe(2);
      expect(run.stderr).toContain('GW_LOG_LEVEL: unknown log level "verbose": one of trace, debug, info, warn, error, fatal, silent');
      expect(run.stdout).toBe('');
    }
  });

  it('writes an Error with its type, message and stack (causes appended), code and other own properties', () => {
    const { log, lines, close } = fileLog('info');
    const err = failure();
    log.child({ bus: '127.0.0.1:8899' }).warn({ err, retryInMs: 1000 }, 'cannot open the DL/T 645 bus');
    log.error({ failure: err, err: new TypeError('bad') }, 'two errors');
    close();
    const [one, two] = lines();
    expect(one).toMatchObject({ bus: '127.0.0.1:8899', retryInMs: 1000, msg: 'cannot open the DL/T 645 bus' });
    expect(one!.err).toMatchObject({ type: 'Error', message: 'cannot open the bus: connection refused', code: 'GW_ERR_DLT645_CONNECT', retryable: true });
    const stack = (one!.err as { stack: string }).stack;
    expect(stack).toMatch(/^Error: cannot open the bus\n\s+at /);
    expect(stack).toMatch(/\ncaused by: Error: connection refused\n\s+at /);
    // an Error under another key is written the same way, not as {}
    expect(two!.failure).toMatchObject({ type: 'Error', message: 'cannot open the bus: connection refused', code: 'GW_ERR_DLT645_CONNECT' });
    expect(two!.err).toMatchObject({ type: 'TypeError', message: 'bad' });
  });

  it('does not throw on circular objects, BigInt, throwing getters or toJSON, and redacts passwords', () => {
    const { log, lines, close } = fileLog('info');
    const ring: Record<string, unknown> = { name: 'ring' };
    ring.self = ring;
    const loop = new Error('loop');
    (loop as { cause?: unknown }).cause = loop;
    const getter = Object.defineProperty({}, 'boom', { enumerable: true, get: () => { throw new Error('getter failed'); } });
    expect(() => {
      log.info({ ring, counter: 2n ** 70n, nested: { big: 7n, list: [1n] } }, 'odd values');
      log.info({ err: loop }, 'cause loop');
      log.info({ getter, bad: { toJSON: () => { throw new Error('toJSON failed'); } } }, 'throwing');
      log.info({ password: 'secret', config: { mqtt: { url: 'mqtt://x', password: 'secret' } } }, 'credentials');
    }).not.toThrow();
    close();
    const [odd, causeLoop, throwing, credentials] = lines();
    expect(odd).toMatchObject({ ring: { name: 'ring', self: '[Circular]' }, counter: 1180591620717411303424, nested: { big: 7, list: [1] }, msg: 'odd values' });
    expect(causeLoop!.err).toMatchObject({ message: 'loop: loop: ...' });
    expect(throwing).toMatchObject({ getter: '[unserializable: getter failed]', bad: '[unserializable: toJSON failed]', msg: 'throwing' });
    expect(credentials).toMatchObject({ password: '[redacted]', config: { mqtt: { url: 'mqtt://x', password: '[redacted]' } } });
  });

  it('writes every line whole into a non-blocking pipe whose reader starts late', { timeout: 60_000 }, async () => {
    const script = path.join(tmp.dir, 'many-lines.ts');
    writeFileSync(
      script,
      [
        `import { createLogger } from ${JSON.stringify(path.join(REPO, 'edge-agent/log.ts'))};`,
        // opening process.stdout on a pipe makes fd 1 non-blocking (libuv), as any use of it in the agent's packages would
        `if (process.stdout.writableLength !== 0) process.exit(3);`,
        `const log = createLogger({ level: 'info' }).child({ part: 'test' });`,
        `const pad = 'x'.repeat(200);`,
        `for (let i = 0; i < 10000; i++) log.info({ i, pad }, 'line');`,
        `process.stderr.write('done\\n');`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const closed = new Promise((resolve) => child.stdout.on('close', resolve));
    // the child fills the pipe (2.5 MB against a buffer of a few hundred kB) and waits for the reader
    let flags = 0;
    await waitFor('the child blocked on a full non-blocking stdout', () => {
      try {
        flags = parseInt(/flags:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/fdinfo/1`, 'utf8'))![1]!, 8);
      } catch {
        return false;
      }
      return (flags & 0o4000) !== 0;
    }, 30_000);
    await sleep(1000);
    expect(stderr).toBe('');
    expect(child.exitCode).toBeNull();
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.resume();
    expect(await exited).toBe(0);
    await closed;
    expect(stderr).toBe('done\n');
    const lines = out.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(10_000);
    lines.forEach((l, i) => expect(JSON.parse(l)).toMatchObject({ level: 30, part: 'test', i, msg: 'line' }));
  });

  it('drops the lines nobody can read any more (EPIPE) without throwing', { timeout: 60_000 }, async () => {
    const script = path.join(tmp.dir, 'no-reader.ts');
    writeFileSync(
      script,
      [
        `import { createLogger } from ${JSON.stringify(path.join(REPO, 'edge-agent/log.ts'))};`,
        `const log = createLogger({ level: 'info' });`,
        // wait for the reader to close its end, then log into the broken pipe
        `process.stdin.once('end', () => {`,
        `  for (let i = 0; i < 1000; i++) log.error({ i }, 'nobody reads this');`,
        `  process.stderr.write('survived\\n');`,
        `});`,
        `process.stdin.resume();`,
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.stdout.destroy();
    child.stdin.end();
    expect(await exited).toBe(0);
    expect(stderr).toBe('survived\n');
  });
});
