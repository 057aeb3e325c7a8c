/**
 * How many files run at once (vitest's workers), from GW_TEST_WORKERS: 2 by
 * default, the cores of the 2-core CI machine. Three took the whole suite
 * from 1,006 to 768–799 s of vitest on a fresh clone, but in two of three
 * such runs tests whose timing holds on two workers failed (a server's
 * restart slower than a 3 s comm-loss window, an agent's watermark-stall
 * resend before three readings of each meter, live values shared between
 * cluster servers later than 10 s), so two stays the default until those
 * tests are robust to it. Both bounds are set to the same count:
 * with fewer minimum workers than maximum, tinypool ends an idle unit thread
 * and vitest reports an unhandled "Terminating worker thread".
 */
export const DEFAULT_TEST_WORKERS = 2;
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
