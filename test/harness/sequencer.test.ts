/**
 * The test-file order (test/harness/sequencer.ts): longest first, from
 * vitest's cached durations when it has them and from the table of slow
 * files on a fresh clone; a file that failed last time first of all. The
 * table names files that exist (a renamed test would otherwise silently
 * lose its place). vitest's context is reduced to what the sequencer reads.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestSpecification, Vitest } from 'vitest/node';
import LongestFirstSequencer, { SLOW_FILES } from './sequencer.ts';

const ROOT = path.resolve('.');
type Cached = { duration: number; failed: boolean };

function sequencer(cached: Record<string, Cached>) {
  const ctx = {
    config: { root: ROOT },
    cache: { getFileTestResults: (key: string) => cached[key.replace(/^[^:]*:/, '')] },
  } as unknown as Vitest;
  return new LongestFirstSequencer(ctx);
}

const spec = (rel: string) => ({ moduleId: path.join(ROOT, rel), project: { name: '' } }) as unknown as TestSpecification;
const order = async (files: string[], cached: Record<string, Cached> = {}) =>
  (await sequencer(cached).sort(files.map(spec))).map((s) => path.relative(ROOT, s.moduleId));

describe('test file order', () => {
  it('names only files that exist', () => {
    const missing = Object.keys(SLOW_FILES).filter((f) => !existsSync(path.join(ROOT, f)));
    expect(missing).toEqual([]);
  });

  it('without a cache: the slow files by their table time, then the rest', async () => {
    const files = ['test/docs.test.ts', 'test/browser/alarms.test.ts', 'test/browser/demo.test.ts', 'test/alarms/faults-crash.test.ts'];
    expect(await order(files)).toEqual(['test/browser/demo.test.ts', 'test/alarms/faults-crash.test.ts', 'test/browser/alarms.test.ts', 'test/docs.test.ts']);
  });

  it('cached durations win over the table; a file that failed last time runs first', async () => {
    const files = ['test/docs.test.ts', 'test/browser/demo.test.ts', 'test/alarms/faults-crash.test.ts'];
    const cached = {
      'test/browser/demo.test.ts': { duration: 5_000, failed: false },
      'test/docs.test.ts': { duration: 300, failed: true },
    };
    expect(await order(files, cached)).toEqual(['test/docs.test.ts', 'test/alarms/faults-crash.test.ts', 'test/browser/demo.test.ts']);
  });
});
