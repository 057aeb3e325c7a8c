/**
 * Line loss computed from the store: known figures from a day of readings,
 * and the same figures from DuckDB and from InfluxDB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DuckDbStore, InfluxStore, topologyFromYaml, type TelemetryStore } from '../../server/index.ts';
import { EnergyConfigSchema, LineLossService, type LineLossRecord } from '../../server/energy/index.ts';
import { readCounters } from '../../server/energy/read.ts';
import { testLog } from '../support/logger.ts';
import { DAY0, H, L1_RESET_MIN, MIN, TOPOLOGY_YAML, dayReadings } from './support.ts';

const topology = topologyFromYaml(TOPOLOGY_YAML).topology;
const dirs: string[] = [];
const stores: TelemetryStore[] = [];
const figures: Record<string, Record<string, LineLossRecord[]>> = {};

async function computeAll(store: TelemetryStore): Promise<Record<string, LineLossRecord[]>> {
  await store.write(dayReadings(-10, 24 * 60 + 10));
  const svc = new LineLossService({ store, topology, config: EnergyConfigSchema.parse({}), log: testLog, clock: () => DAY0 + 25 * H });
  const out: Record<string, LineLossRecord[]> = {};
  for (const kind of ['15m', '1h', '1d'] as const) {
    const computed = await svc.compute(kind, DAY0, DAY0 + 24 * H);
    // what is computed is what is stored
    expect(await store.lineLoss({ interval: kind, from: DAY0, to: DAY0 + 24 * H })).toEqual([...computed].sort((a, b) => (a.transformer < b.transformer ? -1 : a.transformer > b.transformer ? 1 : a.start - b.start)));
    out[kind] = computed;
  }
  return out;
}

beforeAll(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-energy-'));
  dirs.push(dir);
  const duck = new DuckDbStore(path.join(dir, 'store.duckdb'));
  const influx = new InfluxStore({ url: inject('influxUrl'), apiVersion: 1, database: `energy_${process.pid}`, createDatabase: true, timeoutMs: 20_000 });
  for (const s of [duck, influx]) {
    await s.start();
    stores.push(s);
  }
  figures.duckdb = await computeAll(duck);
  figures.influxdb = await computeAll(influx);
}, 120_000);

afterAll(async () => {
  for (const s of stores) await s.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe.each(['duckdb', 'influxdb'])('line loss from the store (%s)', (kind) => {
  const of = (interval: string, transformer: string) => figures[kind]![interval]!.filter((f) => f.transformer === transformer);

  it('t1: 96 complete quarter hours of exactly 4.00 %, the counter reset counted in its interval', () => {
    const q = of('15m', 't1');
    expect(q).toHaveLength(96);
    for (const f of q) expect(f).toMatchObject({ complete: true, supplyKwh: 100, salesKwh: 96, lossKwh: 4, lossPct: 4, missing: [] });
    const withReset = q.filter((f) => f.events.length > 0);
    expect(withReset.map((f) => f.start)).toEqual([DAY0 + 10 * H]);
    expect(withReset[0]!.events).toEqual([{ device: 'L1', quantity: 'ep_imp', kind: 'reset', at: DAY0 + (L1_RESET_MIN + 1) * MIN, from: 5000 + (160 * L1_RESET_MIN) / 60, to: 160 / 60 }]);
  });

  it('t1: hours and the day add up (400 kWh an hour, 9,600 kWh a day, 4.00 %)', () => {
    expect(of('1h', 't1').map((f) => f.supplyKwh)).toEqual(Array(24).fill(400));
    expect(of('1d', 't1')).toMatchObject([{ start: DAY0, end: DAY0 + 24 * H, complete: true, supplyKwh: 9600, salesKwh: 9216, lossPct: 4 }]);
  });

  it('t2: a meter under the wrong transformer gives negative loss (−5.00 %)', () => {
    expect(new Set(of('1h', 't2').map((f) => f.lossPct))).toEqual(new Set([-5]));
  });

  it('t3: the quarter hours whose ends fall in the gap of L5 are incomplete, naming it; the day is complete', () => {
    const bad = of('15m', 't3').filter((f) => !f.complete);
    expect(bad.map((f) => (f.start - DAY0) / MIN)).toEqual([12 * 60, 12 * 60 + 15]);
    for (const f of bad) expect(f).toMatchObject({ missing: ['L5'], reason: 'missing_readings', lossPct: null });
    expect(of('1d', 't3')).toMatchObject([{ complete: true, lossPct: 2 }]);
  });
});

describe('both stores', () => {
  it('give the same figures', () => {
    expect(figures.influxdb).toEqual(figures.duckdb);
  });
});

describe('reading the counters in one pass (counterWindow)', () => {
  const meters = ['T1', 'L1', 'L2', 'T2', 'L3', 'T3', 'L5'];
  // the history path: the same store without its one-pass query
  const viaHistory = (s: TelemetryStore): TelemetryStore => ({ kind: s.kind, history: (q) => s.history(q) }) as TelemetryStore;

  it.each([0, 1])('gives the counters the per-device queries give, for few devices named and for thousands filtered after the scan (store %i)', async (i) => {
    const store = stores[i]!;
    expect(store.counterWindow).toBeTypeOf('function');
    // more names than either store puts into its query: the window is read for every device and filtered
    const many = [...meters.filter((m) => m !== 'L3'), ...Array.from({ length: 1200 }, (_, k) => `absent-${k}`)];
    for (const [interval, start] of [['15m', DAY0 + 10 * H], ['15m', DAY0 + 12 * H], ['1h', DAY0 + 10 * H], ['1d', DAY0]] as const) {
      const args = [interval, start, 120_000, 8 * H] as const;
      const one = await readCounters(store, meters, ...args);
      expect(one).toEqual(await readCounters(viaHistory(store), meters, ...args));
      expect([...one.keys()].sort()).toEqual([...meters].sort());
      const filtered = await readCounters(store, many, ...args);
      // L3 was not asked for: not read
      expect([...filtered.keys()].sort()).toEqual(meters.filter((m) => m !== 'L3').sort());
      for (const m of filtered.keys()) expect(filtered.get(m), `${interval} ${m}`).toEqual(one.get(m));
    }
  });
});
