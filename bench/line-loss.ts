/**
 * Line-loss benchmark, in process: one 15-min interval of N transformer
 * areas of M meters each computed from a real embedded store (DuckDB, a
 * throw-away file), as the line-loss service does on schedule — the
 * counters read from the store (raw near the ends, bucket low/high/last
 * between them, server/energy/read.ts), each area's figure computed, the
 * figures written to `line_loss`. Printed, not asserted.
 *
 *   npx tsx bench/line-loss.ts
 *   GW_BENCH_AREAS=10000     transformer areas
 *   GW_BENCH_METERS=50       meters per area (1 transformer meter + the rest sales meters)
 *   GW_BENCH_POLL_S=300      seconds between a meter's energy readings
 *
 * The readings are written first (not measured): every meter from 5 min
 * before the interval to 5 min after it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDbStore, type StoredReading } from '../server/index.ts';
import { computeInterval } from '../server/energy/compute.ts';
import { devicesPerQuery, readCounters } from '../server/energy/read.ts';
import { DEFAULT_LINE_LOSS_OPTIONS, type Area } from '../server/energy/types.ts';
import { fmt } from './support.ts';

const AREAS = Number(process.env.GW_BENCH_AREAS ?? 10_000);
const METERS = Number(process.env.GW_BENCH_METERS ?? 50);
const POLL_MS = Number(process.env.GW_BENCH_POLL_S ?? 300) * 1000;
const START = Date.UTC(2026, 10, 2, 2); // 10:00 in +08:00
const END = START + 900_000;

const areas: Area[] = Array.from({ length: AREAS }, (_, a) => ({
  site: `s${a % 100}`, room: `r${a}`, transformer: `t${a}`, supplyMeter: `a${a}-t`,
  salesMeters: Array.from({ length: METERS - 1 }, (_, m) => `a${a}-m${m}`), salesBasis: 'lines' as const,
}));

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-bench-ll-'));
  const store = new DuckDbStore(path.join(dir, 'store.duckdb'));
  await store.start();
  try {
    const t0 = performance.now();
    let rows = 0;
    let batch: StoredReading[] = [];
    for (const a of areas) {
      // sales meters draw 96 % of the supply: 4 % loss
      const rate = 0.96 / (METERS - 1);
      for (const [device, share] of [[a.supplyMeter!, 1], ...a.salesMeters.map((m) => [m, rate] as const)] as const)
        for (let t = START - 300_000; t <= END + 300_000; t += POLL_MS) {
          batch.push({ site: a.site, room: a.room, transformer: a.transformer, line: '', device, ts: t, q: 'good', late: false, v: { ep_imp: 1000 + share * 400 * ((t - START) / 3_600_000 + 10) } });
          if (batch.length >= 50_000) {
            await store.write(batch);
            rows += batch.length;
            batch = [];
          }
        }
    }
    await store.write(batch);
    rows += batch.length;
    const tWrite = performance.now() - t0;
    console.log(`setup: ${fmt(AREAS)} areas × ${fmt(METERS)} meters = ${fmt(AREAS * METERS)} meters, ${fmt(rows)} readings written in ${fmt(tWrite / 1000, 1)} s`);

    const cpu0 = process.cpuUsage();
    const r0 = performance.now();
    const devices = areas.flatMap((a) => [a.supplyMeter!, ...a.salesMeters]);
    const counters = await readCounters(store, devices, '15m', START, DEFAULT_LINE_LOSS_OPTIONS.toleranceMs, 8 * 3_600_000);
    const r1 = performance.now();
    const figures = areas.map((a) => computeInterval(a, counters, '15m', START, DEFAULT_LINE_LOSS_OPTIONS, Date.now()));
    const r2 = performance.now();
    await store.writeLineLoss(figures);
    const r3 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const complete = figures.filter((f) => f.complete).length;
    console.log(`15-min line loss of ${fmt(AREAS)} areas: ${fmt((r3 - r0) / 1000, 2)} s wall (${fmt((cpu.user + cpu.system) / 1e6, 2)} s CPU of this process)`);
    console.log(`  read counters from the store: ${fmt((r1 - r0) / 1000, 2)} s (${fmt(Math.ceil(devices.length / devicesPerQuery(store)))} device chunks × 5 queries: raw head, bucket min/max/last, raw tail)`);
    console.log(`  compute figures:              ${fmt((r2 - r1) / 1000, 2)} s`);
    console.log(`  write line_loss:              ${fmt((r3 - r2) / 1000, 2)} s`);
    console.log(`  ${fmt(complete)} complete, loss of the first: ${figures[0]?.lossPct} %`);
  } finally {
    await store.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
