/**
 * How many files run at once (vitest's workers), from GW_TEST_WORKERS: 3 by
 * default on the 2-core CI machine, one more than its cores: many files spend
 * their time waiting on timers, services and child servers. The whole suite
 * on a fresh clone of the same commit: 799 s on three workers against 1,006 s
 * on two (the alarm and cluster files alone: 297 against 336 s). Both bounds are set to the same count:
 * with fewer minimum workers than maximum, tinypool ends an idle unit thread
 * and vitest reports an unhandled "Terminating worker thread".
 */
export const DEFAULT_TEST_WORKERS = 3;
const MAX_TEST_WORKERS = 8;

/** The worker count from `env.GW_TEST_WORKERS`; anything but a whole number from 1 to 8 is refused with the value named. */
export function testWorkers(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.GW_TEST_WORKERS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_TEST_WORKERS;
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= MAX_TEST_WORKERS)) {
    throw new Error(`GW_TEST_WORKERS must be a whole number from 1 to ${MAX_TEST_WORKERS}, got ${JSON.stringify(raw)}`);
  }
  return n;
}
