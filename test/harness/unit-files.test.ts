/**
 * The files that run without isolation (test/harness/unit-files.ts) exist,
 * and none of them does what could reach the next file in the same worker
 * thread: start a service, a server, a socket or a child process, change
 * the environment, the working directory or a global, mock a module, fake
 * timers, or leave an interval running. A file that needs any of that runs
 * in its own fork: take it off the list.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UNIT_FILES } from './unit-files.ts';

const ROOT = path.resolve('.');

/** What a shared worker must not see, with the reason a file doing it runs in its own fork. */
const FORBIDDEN: ReadonlyArray<[RegExp, string]> = [
  [/\binject\(|harness\/|support\/(server|server-process|demo|browser|ws-client|sms-gateway)\.ts/, 'uses the shared services or starts a server'],
  [/edge-agent\/support\.ts|alarms\/helpers\.ts|faults-support\.ts|from '\.\/(support|helpers)\.ts'/, 'uses helpers that start agents, servers or processes'],
  [/node:(child_process|net|http|https|dgram|worker_threads|cluster)'|from '(mqtt|ws|nats|aedes|fastify|serialport|@duckdb\/node-api|playwright-core)'/, 'opens sockets, processes or native handles'],
  [/\.listen\(|createServer\(|startMosquitto|startInfluxd|startTestServer|spawn\(/, 'starts a server or a process'],
  [/process\.env(\.\w+|\[[^\]]+\])\s*=[^=]|delete process\.env|process\.chdir|process\.on\(|process\.exit/, 'changes the process'],
  [/vi\.(mock|doMock|stubEnv|stubGlobal|useFakeTimers|spyOn)|globalThis\.\w+\s*(\?\?)?=[^=]/, 'mocks, fakes timers or sets a global'],
  [/setInterval\(/, 'may leave an interval running'],
];

describe('files that share a worker', () => {
  it('every listed file exists and is listed once', () => {
    expect(UNIT_FILES.filter((f) => !existsSync(path.join(ROOT, f)))).toEqual([]);
    expect(new Set(UNIT_FILES).size).toBe(UNIT_FILES.length);
  });

  it('none of them reaches beyond its own values', () => {
    const found: string[] = [];
    for (const f of UNIT_FILES) {
      const text = readFileSync(path.join(ROOT, f), 'utf8');
      for (const [re, why] of FORBIDDEN) if (re.test(text)) found.push(`${f}: ${why} (${re.exec(text)![0]})`);
    }
    expect(found).toEqual([]);
  });

  it('the check itself catches each kind', () => {
    const samples = [
      "const url = inject('mqttUrl');",
      "import net from 'node:net';",
      'await startTestServer({});',
      "import { sleep } from '../edge-agent/support.ts';",
      "process.env.GW_X = '1';",
      'vi.useFakeTimers();',
      'globalThis.document ??= {};',
      'setInterval(tick, 100);',
    ];
    for (const s of samples) expect(FORBIDDEN.some(([re]) => re.test(s)), s).toBe(true);
    expect(FORBIDDEN.some(([re]) => re.test("import { describe, expect, it } from 'vitest';\nconst a = process.env.GW_X === '1';"))).toBe(false);
  });
});
