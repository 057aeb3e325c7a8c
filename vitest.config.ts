import { defineConfig } from 'vitest/config';
import LongestFirstSequencer from './test/harness/sequencer.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // one shared Mosquitto + influxd per run; URLs reach tests via inject()
    globalSetup: ['./test/harness/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // forks, not threads: tests spawn brokers and native modules (duckdb, serialport)
    pool: 'forks',
    fileParallelism: true,
    // 2-core machine; the services under test need CPU too
    maxWorkers: 2,
    reporters: ['default'],
    // longest files first, also on a fresh clone without vitest's results cache
    sequence: { sequencer: LongestFirstSequencer },
  },
});
