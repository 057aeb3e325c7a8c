import { defineConfig } from 'vitest/config';
import LongestFirstSequencer from './test/harness/sequencer.ts';
import { UNIT_FILES } from './test/harness/unit-files.ts';
import { testWorkers } from './test/harness/workers.ts';

// longest files first, also on a fresh clone without vitest's results cache
const sequence = { sequencer: LongestFirstSequencer };

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: true,
    // 2 on the 2-core machine (the services under test need CPU too), or GW_TEST_WORKERS; see test/harness/workers.ts
    maxWorkers: testWorkers(process.env),
    minWorkers: testWorkers(process.env),
    reporters: ['default'],
    sequence,
    // the unit files share worker threads (their modules loaded once per thread, not once per file)
    poolOptions: { threads: { isolate: false } },
    projects: [
      {
        // the timeouts, workers and reporters above
        extends: true,
        test: {
          name: 'unit',
          include: [...UNIT_FILES],
          pool: 'threads',
          // before the integration files, never beside them: two workers in all
          sequence: { ...sequence, groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...UNIT_FILES, '**/node_modules/**'],
          // one shared Mosquitto + influxd per run; URLs reach tests via inject()
          globalSetup: ['./test/harness/global-setup.ts'],
          // forks, not threads: tests spawn brokers and native modules (duckdb, serialport); a fresh fork per file
          pool: 'forks',
          sequence: { ...sequence, groupOrder: 1 },
        },
      },
    ],
  },
});
