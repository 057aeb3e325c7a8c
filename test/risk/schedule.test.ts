/**
 * The risk runtime's schedule, on a real DuckDB store with the real inputs
 * (the stored readings; no outage pool or alarm journal given): the daily
 * run fires at `computeAt` in the model's time zone for the day that has
 * just ended (a clock set a second before it), a missed daily run is made at
 * start unless a daily or on-demand figure of that day is stored (a
 * provisional one does not count), and computing a past day again leaves the
 * later days as they were.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Site } from '../../contract/index.ts';
import { addDays, dayOf, DuckDbRiskHistory, loadRiskModel, nextComputeTime, RiskInputs, RiskService, type RiskModel } from '../../server/risk/index.ts';
import { DuckDbStore } from '../../server/store/duckdb.ts';
import { testLog } from '../support/logger.ts';

const SITES: Site[] = [{ id: 'q1', name: '一所', rooms: [] } as unknown as Site, { id: 'q2', name: '二所', rooms: [] } as unknown as Site];
let dir = '';
let store: DuckDbStore;
let model: RiskModel;

function service(clock: () => number): RiskService {
  const inputs = new RiskInputs({ sites: () => SITES, store, stationOfSource: () => undefined, timezone: model.timezone });
  return new RiskService({ model, history: new DuckDbRiskHistory(() => store.connect()), inputs, sites: () => SITES, log: testLog, clock });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-schedule-'));
  store = new DuckDbStore(path.join(dir, 'gridwatch.duckdb'));
  await store.start();
  model = await loadRiskModel(fileURLToPath(new URL('../../config/risk.yaml', import.meta.url)));
}, 30_000);
afterAll(async () => {
  await store?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('risk schedule', () => {
  it('the daily run fires at computeAt for the day that has just ended', async () => {
    const now = Date.now();
    // a clock one second before the next computeAt
    const shift = nextComputeTime(model, new Date(now)).getTime() - now - 1000;
    const clock = () => Date.now() + shift;
    const risk = service(clock);
    const got: string[] = [];
    risk.onComputed((days) => void got.push(`${days[0]!.day} ${days[0]!.run}`));
    await risk.start();
    await risk.catchUp;
    const before = got.length;
    const end = Date.now() + 15_000;
    while (got.length === before && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    await risk.stop();
    // computeAt in the model's zone is after midnight: the day that has just ended is the day before the clock's day
    expect(got.slice(before)).toEqual([`${addDays(dayOf(clock(), model.timezone), -1)} daily`]);
  }, 30_000);

  it('a missed daily run is made at start when only a provisional figure of that day is stored, not when an on-demand one is', async () => {
    // a clock 3 days ahead: the day before it has no figures yet
    const clock = () => Date.now() + 3 * 86_400_000;
    const lastDue = nextComputeTime(model, new Date(clock())).getTime() - 86_400_000;
    const missed = addDays(dayOf(lastDue, model.timezone), -1);
    const first = service(clock);
    await first.start();
    await first.catchUp;
    expect((await first.history('q1', missed, missed)).map((d) => d.run)).toEqual(['daily']);
    await first.computeDay(missed, 'on-demand');
    await first.stop();
    const second = service(clock);
    await second.start();
    await second.catchUp;
    expect((await second.history('q1', missed, missed)).map((d) => d.run)).toEqual(['on-demand']);
    await second.stop();
  }, 30_000);

  it('computing a past day again replaces that day only; the later days keep their figures', async () => {
    const risk = service(Date.now);
    await risk.start();
    await risk.catchUp;
    const today = risk.today();
    const days = [-5, -4, -3].map((n) => addDays(today, n));
    for (const d of days) await risk.computeDay(d, 'on-demand');
    const later = await risk.history('q1', days[1]!, days[2]!);
    await risk.computeDay(days[0]!, 'on-demand');
    expect(await risk.history('q1', days[1]!, days[2]!)).toEqual(later);
    await expect(risk.computeDay('2026-13-01', 'on-demand')).rejects.toThrow(/not a date/);
    await expect(risk.computeDay(addDays(today, 1), 'on-demand')).rejects.toThrow(/has not begun/);
    await risk.stop();
  }, 30_000);
});
