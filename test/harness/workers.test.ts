/** The worker count of a test run (./workers.ts): GW_TEST_WORKERS or the default, bad values refused. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_TEST_WORKERS, testWorkers } from './workers.ts';

describe('test workers', () => {
  it('defaults to two; takes a whole number from 1 to 8', () => {
    expect(DEFAULT_TEST_WORKERS).toBe(2);
    expect(testWorkers({})).toBe(2);
    expect(testWorkers({ GW_TEST_WORKERS: '' })).toBe(2);
    expect(testWorkers({ GW_TEST_WORKERS: '3' })).toBe(3);
    expect(testWorkers({ GW_TEST_WORKERS: ' 1 ' })).toBe(1);
    expect(testWorkers({ GW_TEST_WORKERS: '8' })).toBe(8);
  });

  it('refuses anything else, naming the value', () => {
    for (const bad of ['0', '9', '-1', '2.5', 'three', '0x3', '1e1']) {
      expect(() => testWorkers({ GW_TEST_WORKERS: bad }), bad).toThrow(`GW_TEST_WORKERS must be a whole number from 1 to 8, got "${bad}"`);
    }
  });
});
