/**
 * Properties of the line-loss computation over random days of readings
 * (random poll times, gaps, counter resets): a figure is never computed
 * from an incomplete interval, and the interval energies add up to the day's.
 */
import { describe, expect, it } from 'vitest';
import { computeInterval, type MeterCounters } from '../../server/energy/compute.ts';
import { DEFAULT_LINE_LOSS_OPTIONS as OPTS, type Area } from '../../server/energy/types.ts';
import { prng } from '../support/prng.ts';

const DAY0 = Date.UTC(2026, 10, 1, 16);
const Q = 900_000;
const area: Area = { site: 's', room: 'r', transformer: 't', supplyMeter: 'T', salesMeters: ['A', 'B', 'C'], salesBasis: 'lines' };

/** A day of one meter: polls every 20–100 s, some gaps of up to 10 min, a reset from zero now and then. */
function meterDay(r: () => number, kwhPerS: number, withGaps: boolean): { ts: number[]; values: number[] } {
  const ts: number[] = [];
  const values: number[] = [];
  let t = DAY0 - 150_000;
  let v = 1000 * r();
  while (t < DAY0 + 86_400_000 + 150_000) {
    ts.push(t);
    values.push(v);
    let dt = 20_000 + Math.floor(r() * 80_000);
    if (withGaps && r() < 0.01) dt += Math.floor(r() * 600_000);
    t += dt;
    v += kwhPerS * (dt / 1000) * (0.5 + r());
    // a reset right after a reading: the counter restarts from zero and keeps counting
    if (r() < 0.002) v = kwhPerS * (dt / 1000) * r();
  }
  return { ts, values };
}

function hasEnd(s: { ts: number[] }, at: number): boolean {
  return s.ts.some((t) => Math.abs(t - at) <= OPTS.toleranceMs);
}

describe('line loss properties', () => {
  it.each(Array.from({ length: 12 }, (_, i) => i + 1))('random day %i', (seed) => {
    const r = prng(seed);
    const withGaps = seed % 2 === 0;
    const series: Record<string, { ts: number[]; values: number[] }> = {
      T: meterDay(r, 0.1, withGaps), A: meterDay(r, 0.03, withGaps), B: meterDay(r, 0.03, withGaps), C: meterDay(r, 0.03, withGaps),
    };
    const counters = new Map<string, MeterCounters>(Object.entries(series).map(([d, s]) => [d, { ep_imp: s }]));
    const quarters = Array.from({ length: 96 }, (_, i) => computeInterval(area, counters, '15m', DAY0 + i * Q, OPTS, 0));
    for (const f of quarters) {
      const lacking = Object.keys(series).filter((d) => !hasEnd(series[d]!, f.start) || !hasEnd(series[d]!, f.end)).sort();
      // never a figure from an interval some meter has no reading at both ends of
      expect(f.missing).toEqual(lacking);
      if (lacking.length) expect(f.complete).toBe(false);
      // complete unless a meter lacks an end or a counter restarted from an unknown value (a reset after a long gap)
      if (!lacking.length) expect(f.complete || f.reason === 'counter_replaced').toBe(true);
      if (!f.complete) expect([f.supplyKwh, f.salesKwh, f.lossKwh, f.lossPct]).toEqual([null, null, null, null]);
    }
    const day = computeInterval(area, counters, '1d', DAY0, OPTS, 0);
    if (quarters.every((f) => f.complete)) {
      expect(day.complete).toBe(true);
      const sum = (k: 'supplyKwh' | 'salesKwh') => quarters.reduce((a, f) => a + f[k]!, 0);
      // each figure is rounded to the µWh: 96 of them differ from the day by at most 96 µWh
      expect(Math.abs(sum('supplyKwh') - day.supplyKwh!)).toBeLessThanOrEqual(96e-6);
      expect(Math.abs(sum('salesKwh') - day.salesKwh!)).toBeLessThanOrEqual(96e-6);
    } else {
      // only the days with gaps may have incomplete quarters
      expect(withGaps).toBe(true);
    }
  });
});
