/**
 * Provisional runs do not pile up: while one is waiting or running, the next
 * tick of `provisionalEveryMinutes` is skipped rather than queued behind it.
 * On a loaded machine a run of a whole county can take longer than the
 * interval; queued runs would grow without bound and stopping the server
 * would wait for all of them. Real DuckDB store and inputs; a listener that
 * takes 1.5 s (as the items and reports do their own work) makes each run
 * slower than the 0.6-s interval.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Site } from '../../contract/index.ts';
import { DuckDbRiskHistory, loadRiskModel, RiskInputs, RiskService, type RiskModel } from '../../server/risk/index.ts';
import { DuckDbStore } from '../../server/store/duckdb.ts';
import { testLog } from '../support/logger.ts';

const SITES: Site[] = [{ id: 'p1', name: '一所', rooms: [] } as unknown as Site];
let dir = '';
let store: DuckDbStore;
let model: RiskModel;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-pileup-'));
  store = new DuckDbStore(path.join(dir, 'gridwatch.duckdb'));
  await store.start();
  model = { ...(await loadRiskModel(fileURLToPath(new URL('../../config/risk.yaml', import.meta.url)))), provisionalEveryMinutes: 0.01 };
}, 30_000);
afterAll(async () => {
  await store?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('provisional runs', () => {
  it('a tick while a provisional run is pending is skipped, so stopping waits for one run at most', async () => {
    const inputs = new RiskInputs({ sites: () => SITES, store, stationOfSource: () => undefined, timezone: model.timezone });
    const risk = new RiskService({ model, history: new DuckDbRiskHistory(() => store.connect()), inputs, sites: () => SITES, log: testLog });
    let provisional = 0;
    risk.onComputed(async (days) => {
      if (days[0]?.run === 'provisional') provisional++;
      await new Promise((r) => setTimeout(r, 1500));
    });
    await risk.start();
    // about seven ticks of 0.6 s
    await new Promise((r) => setTimeout(r, 4500));
    const stopping = Date.now();
    await risk.stop();
    // one run of 1.5 s at a time: three or four in 4.5 s, and stop waits for the one under way only
    expect(provisional).toBeGreaterThanOrEqual(1);
    expect(provisional).toBeLessThanOrEqual(4);
    expect(Date.now() - stopping).toBeLessThan(5000);
  }, 60_000);
});
