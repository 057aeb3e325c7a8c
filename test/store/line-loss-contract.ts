/**
 * The line-loss measurement of every TelemetryStore implementation: part of
 * the store contract (store-contract.ts), called by each implementation's
 * test file with a fresh, empty store per test.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TelemetryStore } from '../../server/index.ts';
import type { LineLossRecord } from '../../server/energy/types.ts';

const T0 = Date.UTC(2026, 10, 1, 0, 0, 0);
const Q = 900_000;

export function figure(over: Partial<LineLossRecord> = {}): LineLossRecord {
  return {
    site: 's1', room: 'r1', transformer: 't1', interval: '15m', start: T0, end: T0 + Q,
    complete: true, supplyKwh: 100.125, salesKwh: 96.1, lossKwh: 4.025, lossPct: 4.02,
    meters: 3, missing: [], events: [], computedAt: T0 + Q + 60_000,
    ...over,
  };
}

export function lineLossContract(name: string, makeStore: () => Promise<TelemetryStore>): void {
  describe(`TelemetryStore line_loss contract: ${name}`, () => {
    let store: TelemetryStore;
    beforeEach(async () => {
      store = await makeStore();
      await store.start();
    });
    afterEach(async () => {
      await store.stop();
    });

    it('stores figures and returns them exactly, ordered by site, transformer, start, filtered by interval, window, site and transformer', async () => {
      const incomplete = figure({ transformer: 't0', start: T0 + Q, end: T0 + 2 * Q, complete: false, supplyKwh: null, salesKwh: null, lossKwh: null, lossPct: null, missing: ['m "7", b\\'], reason: 'missing_readings' });
      const reset = figure({ start: T0 + Q, end: T0 + 2 * Q, events: [{ device: '1#配变 出线①', quantity: 'ep_imp', kind: 'reset', at: T0 + Q + 1, from: 10.5, to: 0.25 }] });
      const day = figure({ interval: '1d', start: T0 - 8 * 3_600_000, end: T0 + 16 * 3_600_000 });
      const other = figure({ site: 's2' });
      await store.writeLineLoss([reset, figure(), incomplete, day, other]);
      expect(await store.lineLoss({ interval: '15m', from: T0, to: T0 + 2 * Q, sites: ['s1'] })).toEqual([incomplete, figure(), reset]);
      expect(await store.lineLoss({ interval: '15m', from: T0, to: T0 + Q, sites: ['s1'], transformer: 't1' })).toEqual([figure()]);
      expect(await store.lineLoss({ interval: '15m', from: T0, to: T0 + Q })).toEqual([figure(), other]);
      expect(await store.lineLoss({ interval: '1d', from: T0 - 86_400_000, to: T0 + 86_400_000 })).toEqual([day]);
      expect(await store.lineLoss({ interval: '1h', from: T0 - 86_400_000, to: T0 + 86_400_000 })).toEqual([]);
    });

    it('replaces a figure written again for the same area and interval (a recomputation)', async () => {
      await store.writeLineLoss([figure()]);
      const again = figure({ complete: false, supplyKwh: null, salesKwh: null, lossKwh: null, lossPct: null, missing: ['m2'], reason: 'missing_readings', computedAt: T0 + 5 * Q });
      await store.writeLineLoss([again]);
      await store.writeLineLoss([]);
      expect(await store.lineLoss({ interval: '15m', from: T0, to: T0 + Q })).toEqual([again]);
    });
  });
}
