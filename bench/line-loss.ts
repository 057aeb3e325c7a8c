/**
 * Line-loss benchmark, in process: one 15-min interval of N transformer
 * areas of M meters each computed from a real store, as the line-loss
 * service does on schedule — the counters read from the store in one pass
 * (raw near the ends, bucket low/high/last between them: server/energy/read.ts,
 * server/store/counters-*.ts), each area's figure computed, the figures
 * written to `line_loss`. Printed, not asserted.
 *
 *   npx tsx bench/line-loss.ts
 *   GW_BENCH_STORE=duckdb    duckdb (a throw-away file), influxdb (a private influxd) or both
 *   GW_BENCH_AREAS=10000     transformer areas
 *   GW_BENCH_METERS=50       meters per area (1 transformer meter + the rest sales meters)
 *   GW_BENCH_POLL_S=300      seconds between a meter's energy readings
 *   GW_BENCH_PER_DEVICE=1    also time the older way: queries per list of named devices (slow)
 *
 * The readings are written first (not measured): every meter from 5 min
 * before the interval to 5 min after it; DuckDB's straight from SQL (the
 * ingest's merge of 3 million readings would take longer than the bench),
 * InfluxDB's as line protocol through the store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDbStore, InfluxStore, type StoredReading, type TelemetryStore } from '../server/index.ts';
import { computeInterval } from '../server/energy/compute.ts';
import { devicesPerQuery, readCounters } from '../server/energy/read.ts';
import { DEFAULT_LINE_LOSS_OPTIONS, type Area } from '../server/energy/types.ts';
import { startInfluxd } from '../test/harness/index.ts';
import { fmt, runBench, type Cleanups } from './support.ts';

const STORES = (process.env.GW_BENCH_STORE ?? 'duckdb') === 'both' ? ['duckdb', 'influxdb'] : [process.env.GW_BENCH_STORE ?? 'duckdb'];
const AREAS = Number(process.env.GW_BENCH_AREAS ?? 10_000);
const METERS = Number(process.env.GW_BENCH_METERS ?? 50);
const POLL_MS = Number(process.env.GW_BENCH_POLL_S ?? 300) * 1000;
const PER_DEVICE = process.env.GW_BENCH_PER_DEVICE === '1';
const START = Date.UTC(2026, 10, 2, 2); // 10:00 in +08:00
const END = START + 900_000;
const FIRST = START - 300_000;
const POLLS = Math.floor((END + 300_000 - FIRST) / POLL_MS) + 1;
// sales meters draw 96 % of the supply: 4 % loss
const SHARE = 0.96 / (METERS - 1);

const areas: Area[] = Array.from({ length: AREAS }, (_, a) => ({
  site: `s${a % 100}`, room: `r${a}`, transformer: `t${a}`, supplyMeter: `a${a}-t`,
  salesMeters: Array.from({ length: METERS - 1 }, (_, m) => `a${a}-m${m}`), salesBasis: 'lines' as const,
}));

/** the counter of a meter at t: 400 kWh an hour into the area */
const counter = (share: number, t: number) => 1000 + share * 400 * ((t - START) / 3_600_000 + 10);

async function fillDuckDb(store: DuckDbStore): Promise<number> {
  const conn = await store.connect();
  try {
    // meter m = 0 is the transformer's (a{a}-t), the others a{a}-m{m − 1}; in time order, as readings arrive
    await conn.run(`INSERT INTO reading (device, ts, site, room, transformer, line, q, late, v_ep_imp)
      SELECT CASE WHEN m = 0 THEN 'a' || a || '-t' ELSE 'a' || a || '-m' || (m - 1) END, ${FIRST} + p * ${POLL_MS},
             's' || (a % 100), 'r' || a, 't' || a, '', 'good', false,
             1000 + (CASE WHEN m = 0 THEN 1.0 ELSE ${SHARE} END) * 400 * ((${FIRST} + p * ${POLL_MS} - ${START}) / 3600000.0 + 10)
      FROM range(${AREAS}) r1(a), range(${METERS}) r2(m), range(${POLLS}) r3(p) ORDER BY p, a, m`);
    await conn.run('CHECKPOINT');
  } finally {
    conn.closeSync();
  }
  return AREAS * METERS * POLLS;
}

async function fillInflux(store: InfluxStore): Promise<number> {
  let rows = 0;
  let batch: StoredReading[] = [];
  for (const a of areas)
    for (const [device, share] of [[a.supplyMeter!, 1], ...a.salesMeters.map((m) => [m, SHARE] as const)] as const)
      for (let p = 0; p < POLLS; p++) {
        const ts = FIRST + p * POLL_MS;
        batch.push({ site: a.site, room: a.room, transformer: a.transformer, line: '', device, ts, q: 'good', late: false, v: { ep_imp: counter(share, ts) } });
        if (batch.length >= 20_000) {
          await store.write(batch);
          rows += batch.length;
          batch = [];
        }
      }
  await store.write(batch);
  return rows + batch.length;
}

async function bench(kind: string, store: TelemetryStore): Promise<void> {
  const devices = areas.flatMap((a) => [a.supplyMeter!, ...a.salesMeters]);
  const run = async (how: string, s: TelemetryStore, note: string) => {
    const cpu = () => {
      const c = process.cpuUsage();
      return (c.user + c.system) / 1e6;
    };
    const rss0 = process.memoryUsage().rss;
    const [r0, c0] = [performance.now(), cpu()];
    const counters = await readCounters(s, devices, '15m', START, DEFAULT_LINE_LOSS_OPTIONS.toleranceMs, 8 * 3_600_000);
    const [r1, c1] = [performance.now(), cpu()];
    const figures = areas.map((a) => computeInterval(a, counters, '15m', START, DEFAULT_LINE_LOSS_OPTIONS, Date.now()));
    const [r2, c2] = [performance.now(), cpu()];
    await s.writeLineLoss(figures);
    const [r3, c3] = [performance.now(), cpu()];
    const complete = figures.filter((f) => f.complete).length;
    // CPU is this process's, DuckDB's threads included (not influxd's): with the machine busy, wall time is mostly waiting for a core
    console.log(`${kind}, ${how}: 15-min line loss of ${fmt(AREAS)} areas in ${fmt((r3 - r0) / 1000, 2)} s wall, ${fmt(c3 - c0, 2)} s CPU (RSS +${fmt((process.memoryUsage().rss - rss0) / 2 ** 20)} MB)`);
    console.log(`  read counters from the store: ${fmt((r1 - r0) / 1000, 2)} s wall, ${fmt(c1 - c0, 2)} s CPU (${note})`);
    console.log(`  compute figures:              ${fmt((r2 - r1) / 1000, 2)} s wall, ${fmt(c2 - c1, 2)} s CPU`);
    console.log(`  write line_loss:              ${fmt((r3 - r2) / 1000, 2)} s wall, ${fmt(c3 - c2, 2)} s CPU`);
    console.log(`  ${fmt(complete)} complete, loss of the first: ${figures[0]?.lossPct} %`);
  };
  await run('one pass', store, kind === 'duckdb' ? 'one query over the window, every device' : 'three InfluxQL statements over the window, every device');
  if (PER_DEVICE) {
    // the same store without its one-pass query: history per list of named devices
    const perDevice = { kind: store.kind, history: (q) => store.history(q), writeLineLoss: (r) => store.writeLineLoss(r) } as TelemetryStore;
    await run('per device list', perDevice, `${fmt(Math.ceil(devices.length / devicesPerQuery(store)))} lists of ${fmt(devicesPerQuery(store))} devices × 5 queries`);
  }
}

runBench(async (cleanup: Cleanups) => {
  console.log(`${fmt(AREAS)} areas × ${fmt(METERS)} meters = ${fmt(AREAS * METERS)} meters, a reading every ${fmt(POLL_MS / 1000)} s (${POLLS} each); ${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const kind of STORES) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-bench-ll-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const t0 = performance.now();
    let store: TelemetryStore;
    let rows: number;
    if (kind === 'duckdb') {
      const duck = new DuckDbStore(path.join(dir, 'store.duckdb'));
      await duck.start();
      cleanup.unshift(() => duck.stop());
      rows = await fillDuckDb(duck);
      store = duck;
    } else if (kind === 'influxdb') {
      const influxd = await startInfluxd();
      cleanup.unshift(() => influxd.stop());
      const influx = new InfluxStore({ url: influxd.url, apiVersion: 1, database: 'bench', createDatabase: true, timeoutMs: 600_000 });
      await influx.start();
      rows = await fillInflux(influx);
      store = influx;
    } else throw new Error(`GW_BENCH_STORE: duckdb, influxdb or both, got ${kind}`);
    console.log(`${kind}: ${fmt(rows)} readings written in ${fmt((performance.now() - t0) / 1000, 1)} s (setup, not measured)`);
    await bench(kind, store);
  }
});
