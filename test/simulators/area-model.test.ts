import { describe, expect, it } from 'vitest';
import { generateDemoGrid, THEFT_AREA, type DemoMeter, type DemoRoom } from '../../scripts/demo-grid.ts';
import { areaOverload, demoMeterModel, ratedOverload } from '../../scripts/demo-parts.ts';
import { createAreaModel, createMeterModel, MODEL_QUANTITIES, registerMapOf, type MeterModel } from '../../simulators/index.ts';
import { MeterUnit } from '../../simulators/meter-unit.ts';

// 2026-01-07 (a Wednesday) 18:30 China Standard Time: the evening ramp, loads change fast
const T0 = Date.UTC(2026, 0, 7, 10, 30, 0);
const H = 3_600_000;
const grid = generateDemoGrid();

interface Area {
  room: DemoRoom;
  tx: DemoMeter;
  lines: DemoMeter[];
  txModel: MeterModel;
  lineModels: MeterModel[];
}
function area(transformer: string): Area {
  const room = grid.rooms.find((r) => r.meters.some((m) => m.transformer === transformer))!;
  const tx = room.meters.find((m) => m.role === 'transformer' && m.transformer === transformer)!;
  const lines = room.meters.filter((m) => m.role === 'line' && m.transformer === transformer);
  return { room, tx, lines, txModel: demoMeterModel(room, tx).model, lineModels: lines.map((m) => demoMeterModel(room, m).model) };
}

/** Samples every model each second for an hour; returns the counters' increase. */
function hourOfSamples(a: Area, from: number, each?: (t: number) => void): { supply: number; sales: number } {
  const t0 = a.txModel.sample(from).ep_imp;
  const l0 = a.lineModels.map((m) => m.sample(from).ep_imp);
  for (let t = from + 1000; t <= from + H; t += 1000) {
    a.txModel.sample(t);
    for (const m of a.lineModels) m.sample(t);
    each?.(t);
  }
  const supply = a.txModel.sample(from + H).ep_imp - t0;
  const sales = a.lineModels.reduce((n, m, i) => n + m.sample(from + H).ep_imp - l0[i]!, 0);
  return { supply, sales };
}

describe('transformer area model (demo)', () => {
  it('every transformer of the demo grid carries a seeded technical loss of 2–5 %, and only the theft area has an under-reading meter', () => {
    const meters = grid.rooms.flatMap((r) => r.meters);
    const tx = meters.filter((m) => m.role === 'transformer');
    expect(tx.length).toBeGreaterThan(100);
    for (const m of tx) expect(m.lossFraction!, m.id).toBeGreaterThanOrEqual(0.02), expect(m.lossFraction!, m.id).toBeLessThanOrEqual(0.05);
    expect(new Set(tx.map((m) => m.lossFraction)).size).toBeGreaterThan(50);
    const theft = meters.filter((m) => m.readingFactor !== undefined);
    expect(theft.map((m) => m.transformer)).toEqual([THEFT_AREA.transformer]);
    expect(theft[0]!.readingFactor!).toBeGreaterThan(0.7);
    expect(theft[0]!.readingFactor!).toBeLessThan(0.9);
    // the same seed gives the same grid
    expect(generateDemoGrid().rooms.flatMap((r) => r.meters)).toEqual(meters);
  });

  it("the transformer's p and q are its lines' sum × (1 + loss), its voltages its own, and its counter integrates the sum", () => {
    const a = area('t-101-1');
    const loss = a.tx.lossFraction!;
    const own = createMeterModel({ profile: a.tx.profile, seed: a.tx.seed, ratedKw: a.tx.ratedKw });
    let checked = 0;
    const { supply, sales } = hourOfSamples(a, T0, (t) => {
      if (t % 97_000 !== 0) return;
      const v = a.txModel.sample(t);
      const lines = a.lineModels.map((m) => m.sample(t));
      for (const k of MODEL_QUANTITIES) expect(Number.isFinite(v[k]), k).toBe(true);
      expect(v.p).toBeCloseTo(lines.reduce((n, x) => n + x.p, 0) * (1 + loss), 6);
      expect(v.pa).toBeCloseTo(lines.reduce((n, x) => n + x.pa, 0) * (1 + loss), 6);
      expect(v.q).toBeCloseTo(lines.reduce((n, x) => n + x.q, 0) * (1 + loss), 6);
      const mine = own.sample(t);
      expect(v.ua).toBe(mine.ua);
      expect(v.f).toBe(mine.f);
      // P = U·I·pf per phase at the transformer's own voltage
      expect((v.ua * v.ia * v.pfa) / 1000).toBeCloseTo(v.pa, 6);
      checked++;
    });
    expect(checked).toBeGreaterThan(30);
    expect(sales).toBeGreaterThan(10);
    expect(supply / sales).toBeCloseTo(1 + loss, 3);
    const lineLoss = (supply - sales) / supply;
    expect(lineLoss).toBeGreaterThanOrEqual(0.019);
    expect(lineLoss).toBeLessThanOrEqual(0.049);
  });

  it('the theft area: its line loss comes out near 15 % over an hour', () => {
    const a = area(THEFT_AREA.transformer);
    const { supply, sales } = hourOfSamples(a, T0 - 8 * H);
    const lineLoss = (supply - sales) / supply;
    expect(lineLoss).toBeGreaterThan(0.13);
    expect(lineLoss).toBeLessThan(0.17);
  });

  it('overrides on the transformer meter work as on any meter, an overridden p is what the counter integrates', () => {
    const a = area('t-101-2');
    a.txModel.sample(T0);
    a.txModel.setOverride({ p: 500, ua: 180 });
    const v = a.txModel.sample(T0 + 60_000);
    expect(v.p).toBe(500);
    expect(v.ua).toBe(180);
    const e0 = v.ep_imp;
    expect(a.txModel.sample(T0 + H + 60_000).ep_imp - e0).toBeCloseTo(500, 6);
    a.txModel.clearOverride('p');
    expect(a.txModel.overrides()).toEqual({ ua: 180 });
    expect(() => a.txModel.setOverride({ nope: 1 } as never)).toThrow(/not a quantity/);
    a.txModel.clearOverride();
    expect(a.txModel.sample(T0 + 2 * H).ua).toBeGreaterThan(200);
  });

  it("the storyline's rated overload takes the transformer to 130 % of full load against the area's present load, at every hour, its voltage barely lower", () => {
    const a = area('t-101-1');
    const { activeKw } = demoMeterModel(a.room, a.tx);
    // every hour of a day: at night the residential area draws a tenth of its transformer's rating, so the factor is large
    for (let h = 0; h < 24; h++) {
      const now = T0 + h * H;
      const f = ratedOverload({ kind: 'overload', factor: 1.3, rampS: 15 }, a.tx, now, activeKw!(now));
      let clock = now;
      const unit = new MeterUnit(1, demoMeterModel(a.room, a.tx).model, registerMapOf('dtsu666'), () => clock, () => 0.5);
      unit.setFault(f, 240_000);
      clock = now + 20_000;
      const v = unit.values(clock);
      expect(v.p / a.tx.fullKw, `${h}:00`).toBeGreaterThan(1.2);
      expect(v.p / a.tx.fullKw, `${h}:00`).toBeLessThan(1.4);
      // the load rate the server derives where a meter gives no apparent power: from voltage × current
      const ui = (v.ua * v.ia + v.ub * v.ib + v.uc * v.ic) / 1000 / a.tx.ratedKva!;
      expect(ui, `${h}:00`).toBeGreaterThan(1.1);
      expect(v.ua, `${h}:00`).toBeGreaterThan(205);
    }
  });

  it("an overload of the transformer's area drives its lines by the same factor: supply and sales still add up while it lasts", () => {
    const a = area('t-101-1');
    const fault = { kind: 'overload' as const, factor: 1.3, rampS: 15 };
    let clock = T0;
    const units = [a.tx, ...a.lines].map((m, i) => new MeterUnit(i + 1, demoMeterModel(a.room, m).model, registerMapOf('dtsu666'), () => clock, () => 0.5));
    const e0 = units.map((u) => u.values(clock).ep_imp);
    const faults = [a.tx, ...a.lines].map((m) => areaOverload(a.room, m, fault, clock));
    expect(new Set(faults.map((f) => (f as { factor: number }).factor)).size).toBe(1);
    units.forEach((u, i) => u.setFault(faults[i]!, 240_000));
    for (clock = T0 + 1000; clock <= T0 + 600_000; clock += 1000) for (const u of units) u.values(clock);
    const e1 = units.map((u) => u.values(clock).ep_imp);
    const supply = e1[0]! - e0[0]!;
    const sales = e1.slice(1).reduce((n, e, i) => n + e - e0[i + 1]!, 0);
    expect(supply / sales).toBeCloseTo(1 + a.tx.lossFraction!, 2);
    // a meter outside any summed area keeps its own rating
    const own = ratedOverload(fault, a.lines[0]!, T0);
    expect(areaOverload({ ...a.room, meters: [a.lines[0]!] }, a.lines[0]!, fault, T0)).toEqual(own);
  });

  it('bad options are refused with a clear error', () => {
    const line = { profile: 'residential' as const, seed: 1 };
    expect(() => createAreaModel({ transformer: { profile: 'feeder' }, lines: [], lossFraction: 0.03 })).toThrow(/at least one line/);
    expect(() => createAreaModel({ transformer: { profile: 'feeder' }, lines: [line], lossFraction: Number.NaN })).toThrow(/lossFraction/);
    expect(() => createMeterModel({ profile: 'residential', readingFactor: 0 })).toThrow(/readingFactor/);
  });
});
