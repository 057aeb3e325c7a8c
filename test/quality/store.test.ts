/**
 * Voltage qualification rate and available capacity read through the store
 * port: the same readings written to DuckDB and to InfluxDB give the same,
 * exact figures — 1,380 of 1,440 minutes inside → 95.83 %, a single-phase
 * point judged on +7 % / −10 %, a month the sum of its days, the maximum and
 * 95th-percentile 15-min load of the last 30 days against the rating.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseTopology, type Site } from '../../contract/index.ts';
import { DuckDbStore, InfluxStore, type StoredReading, type TelemetryStore } from '../../server/index.ts';
import { capacityReport, voltageReport } from '../../server/quality/read.ts';
import { periodOf } from '../../server/quality/voltage.ts';

const MIN = 60_000;
/** 2026-11-03 00:00 in China (UTC+8) */
const DAY0 = Date.UTC(2026, 10, 2, 16, 0);

const topo = parseTopology({
  sites: [
    {
      id: 's1',
      name: 'S1',
      rooms: [
        {
          id: 'r1',
          name: 'R1',
          transformers: [
            { id: 't1', name: '1#', ratedKva: 400, meter: 'm-t1', lines: [{ id: 'l1', name: 'L1', meter: 'm-l1' }, { id: 'l2', name: 'L2', meter: 'm-quiet' }] },
            { id: 't2', name: '2#', ratedKva: 630 },
          ],
        },
      ],
    },
  ],
});
if (!topo.ok) throw new Error('topology');
const site: Site = topo.topology.sites[0]!;

function reading(device: string, ts: number, v: StoredReading['v']): StoredReading {
  return { site: 's1', room: 'r1', transformer: 't1', line: device === 'm-t1' ? '' : 'l1', device, ts, q: 'good', late: false, v };
}

/**
 * Day 0: m-t1 (three-phase) one reading a minute: minutes 100–139 ua 240 V
 * (above 235.4), minutes 600–619 ub 200 V (below 204.6), the rest inside →
 * 1,380 inside. m-l1 (ua only, single-phase) at 200 V all day (inside
 * 198–235.4 on −10 %), minutes 0–29 at 197 V → 1,410 inside. Day 1:
 * m-t1 only 60 minutes, all inside.
 */
function feed(): StoredReading[] {
  const out: StoredReading[] = [];
  for (let m = 0; m < 1440; m++) {
    const t = DAY0 + m * MIN + 10_000;
    out.push(reading('m-t1', t, { ua: m >= 100 && m < 140 ? 240 : 222, ub: m >= 600 && m < 620 ? 200 : 221, uc: 223 }));
    out.push(reading('m-l1', t, { ua: m < 30 ? 197 : 200 }));
  }
  for (let m = 0; m < 60; m++) out.push(reading('m-t1', DAY0 + 86_400_000 + m * MIN + 5_000, { ua: 220, ub: 220, uc: 220 }));
  // load of t1 before DAY0: one reading in each of 100 15-min intervals, load_rate 0.75 % × k (k = 1..100)
  for (let k = 1; k <= 100; k++) out.push(reading('m-t1', DAY0 - k * 15 * MIN + 60_000, { load_rate: 0.75 * k }));
  return out;
}

async function check(store: TelemetryStore): Promise<void> {
  await store.start();
  try {
    await store.write(feed());
    const day = await voltageReport(store, site, periodOf('2026-11-03', undefined, '+08:00')!, DAY0 + 10 * 86_400_000);
    const byDevice = Object.fromEntries(day.points.map((p) => [p.device, p]));
    expect(byDevice['m-t1']).toMatchObject({ class: 'three_phase', monitoredMin: 1440, insideMin: 1380, aboveMin: 40, belowMin: 20, ratePct: 95.83, abovePct: 2.78, belowPct: 1.39 });
    expect(byDevice['m-t1']!.limits).toMatchObject({ phaseHiV: 235.4, phaseLoV: 204.6 });
    expect(byDevice['m-l1']).toMatchObject({ class: 'single_phase', monitoredMin: 1440, insideMin: 1410, belowMin: 30, ratePct: 97.92 });
    expect(byDevice['m-l1']!.limits).toMatchObject({ phaseHiV: 235.4, phaseLoV: 198 });
    expect(byDevice['m-quiet']).toMatchObject({ class: null, monitoredMin: 0, ratePct: null });
    expect(day.summary).toMatchObject({ points: 3, pointsMonitored: 2, monitoredMin: 2880, insideMin: 2790, ratePct: 96.88, lowestPct: 95.83, lowestDevice: 'm-t1' });
    const month = await voltageReport(store, site, periodOf(undefined, '2026-11', '+08:00')!, DAY0 + 10 * 86_400_000);
    expect(month.points.find((p) => p.device === 'm-t1')).toMatchObject({ monitoredMin: 1500, insideMin: 1440, ratePct: 96 });
    const cap = await capacityReport(store, site, DAY0);
    expect(cap.transformers).toEqual([
      // load_rate 75 % at most → 300 kVA of 400; p95 by nearest rank of 100 values = the 95th = 71.25 % → 285 kVA
      { room: 'r1', transformer: 't1', name: '1#', meter: 'm-t1', ratedKva: 400, intervals: 100, maxKva: 300, maxAt: DAY0 - 100 * 15 * MIN, p95Kva: 285, availableKva: 100, availableP95Kva: 115, maxLoadPct: 75 },
      { room: 'r1', transformer: 't2', name: '2#', meter: null, ratedKva: 630, intervals: 0, maxKva: null, maxAt: null, p95Kva: null, availableKva: null, availableP95Kva: null, maxLoadPct: null },
    ]);
  } finally {
    await store.stop();
  }
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('voltage qualification and available capacity from the store', () => {
  it('DuckDB', { timeout: 60_000 }, async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'gw-quality-'));
    dirs.push(d);
    await check(new DuckDbStore(path.join(d, 'store.duckdb')));
  });
  it('InfluxDB', { timeout: 60_000 }, async () => {
    await check(new InfluxStore({ url: inject('influxUrl'), apiVersion: 1, database: `quality_${process.pid}`, createDatabase: true, timeoutMs: 10_000 }));
  });
});
