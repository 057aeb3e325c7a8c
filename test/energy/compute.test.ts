/**
 * Line loss of one area over one interval, from known counters: exact figures.
 */
import { describe, expect, it } from 'vitest';
import { computeInterval, liveEstimate, type MeterCounters } from '../../server/energy/compute.ts';
import { counterEnergy, stepEnergy, valueAt } from '../../server/energy/counter.ts';
import { intervalStart, intervalsIn, parseUtcOffset } from '../../server/energy/intervals.ts';
import { DEFAULT_LINE_LOSS_OPTIONS as OPTS, type Area } from '../../server/energy/types.ts';

const T0 = Date.UTC(2026, 10, 1, 0, 0); // 08:00 in +08:00
const M = 60_000;
const area: Area = { site: 's1', room: 'r1', transformer: 't1', supplyMeter: 'T', salesMeters: ['L1', 'L2'], salesBasis: 'lines' };

/** A counter read every `everyMin` minutes from T0 − 5 min to T0 + 20 min, rising linearly `kwhPer15` per 15 min from `base`. */
function linear(base: number, kwhPer15: number, everyMin = 1): { ts: number[]; values: number[] } {
  const ts: number[] = [];
  const values: number[] = [];
  for (let m = -5; m <= 20; m += everyMin) {
    ts.push(T0 + m * M);
    values.push(base + (kwhPer15 * m) / 15);
  }
  return { ts, values };
}
const imp = (s: { ts: number[]; values: number[] }): MeterCounters => ({ ep_imp: s });

describe('intervals', () => {
  it.each([
    ['15m', Date.UTC(2026, 10, 1, 0, 14, 59), Date.UTC(2026, 10, 1, 0, 0)],
    ['1h', Date.UTC(2026, 10, 1, 0, 59), Date.UTC(2026, 10, 1, 0)],
    // 2026-11-01 15:30Z is 23:30 on Nov 1 in +08:00: the day began 2026-11-01 00:00+08:00 = Oct 31 16:00Z
    ['1d', Date.UTC(2026, 10, 1, 15, 30), Date.UTC(2026, 9, 31, 16)],
    ['1d', Date.UTC(2026, 10, 1, 16, 0), Date.UTC(2026, 10, 1, 16)],
  ] as const)('%s interval of %d starts at %d (+08:00)', (kind, ts, start) => {
    expect(intervalStart(ts, kind, 8 * 3_600_000)).toBe(start);
  });
  it('lists the whole intervals inside a window', () => {
    expect(intervalsIn(T0 + 1, T0 + 46 * M, '15m', 0)).toEqual([T0 + 15 * M, T0 + 30 * M]);
  });
  it.each([['+08:00', 8 * 3_600_000], ['Z', 0], ['-05:30', -(5.5 * 3_600_000)], ['8', null], ['+25:00', null]])('parses %s', (s, ms) => {
    expect(parseUtcOffset(s)).toBe(ms);
  });
});

describe('counter value at a boundary', () => {
  const s = { ts: [T0 - 30_000, T0 + 30_000, T0 + 200_000], values: [10, 11, 12] };
  it.each([
    ['interpolated between readings either side', T0, 120_000, 10.5],
    ['exact reading', T0 + 30_000, 120_000, 11],
    ['only the reading before within tolerance', T0 + 80_000, 60_000, 11],
    ['none within tolerance', T0 - 200_000, 60_000, null],
  ])('%s', (_w, at, tol, v) => {
    expect(valueAt(s, at, tol)).toBe(v);
  });
});

describe('counter steps', () => {
  it.each([
    ['rising', 100, 105, 5, undefined],
    ['reset to zero', 100, 3, 3, 'reset'],
    ['rollover at 10⁶', 999_990, 5, 15, 'rollover'],
    ['replaced (restarts from an unrelated value)', 5000, 1234, null, 'replaced'],
  ] as const)('%s: %d → %d', (_w, a, b, kwh, event) => {
    const r = stepEnergy(a, b, OPTS);
    expect(r.kwh).toBe(kwh);
    expect(r.event).toBe(event);
  });

  it('counts a reset inside an interval as the part before it plus the part after from zero', () => {
    // 100 at the start, 106 at +6 min, reset, 2 at +7 min, 8 at the end (+15 min)
    const s = { ts: [T0, T0 + 6 * M, T0 + 7 * M, T0 + 15 * M], values: [100, 106, 2, 8] };
    const r = counterEnergy(s, T0, T0 + 15 * M, OPTS);
    expect(r).toEqual({ ok: true, kwh: 14, events: [{ kind: 'reset', at: T0 + 7 * M, from: 106, to: 2 }] });
  });
});

describe('line loss of an interval', () => {
  const cases: Array<[string, Record<string, MeterCounters>, Partial<ReturnType<typeof computeInterval>>]> = [
    [
      'known energies: loss exactly 4.00 %',
      { T: imp(linear(1000, 100)), L1: imp(linear(50, 40)), L2: imp(linear(7, 56)) },
      { complete: true, supplyKwh: 100, salesKwh: 96, lossKwh: 4, lossPct: 4, missing: [] },
    ],
    [
      'readings every 2 min, boundaries interpolated',
      { T: imp(linear(1000, 100, 2)), L1: imp(linear(50, 40, 3)), L2: imp(linear(7, 56)) },
      { complete: true, supplyKwh: 100, salesKwh: 96, lossPct: 4 },
    ],
    [
      'a counter reset in the middle of the interval',
      {
        T: imp(linear(1000, 100)),
        L1: imp({ ts: [T0, T0 + 6 * M, T0 + 7 * M, T0 + 15 * M], values: [100, 116, 2, 26] }),
        L2: imp(linear(7, 56)),
      },
      { complete: true, supplyKwh: 100, salesKwh: 98, lossPct: 2, events: [{ device: 'L1', quantity: 'ep_imp', kind: 'reset', at: T0 + 7 * M, from: 116, to: 2 }] },
    ],
    [
      'a missing meter: incomplete, named',
      { T: imp(linear(1000, 100)), L1: imp({ ts: [T0 - M, T0], values: [49, 50] }), L2: imp(linear(7, 56)) },
      { complete: false, supplyKwh: null, lossPct: null, missing: ['L1'], reason: 'missing_readings' },
    ],
    [
      'a meter that never reported: incomplete, named',
      { T: imp(linear(1000, 100)), L2: imp(linear(7, 56)) },
      { complete: false, missing: ['L1'], reason: 'missing_readings' },
    ],
    [
      'a meter placed under the wrong transformer: negative loss',
      { T: imp(linear(1000, 100)), L1: imp(linear(50, 40)), L2: imp(linear(7, 65)) },
      { complete: true, supplyKwh: 100, salesKwh: 105, lossKwh: -5, lossPct: -5 },
    ],
    [
      'PV fed in by a customer and exported through the transformer',
      {
        T: { ep_imp: linear(1000, 100), ep_exp: linear(20, 10) },
        L1: { ep_imp: linear(50, 40), ep_exp: linear(3, 12) },
        L2: imp(linear(7, 56)),
      },
      // supply 100 − 10 + 12 = 102, sales 96
      { complete: true, supplyKwh: 102, salesKwh: 96, lossKwh: 6, lossPct: 5.88 },
    ],
    [
      'a replaced meter: incomplete, with the event',
      {
        T: imp(linear(1000, 100)),
        L1: imp({ ts: [T0, T0 + 6 * M, T0 + 7 * M, T0 + 15 * M], values: [5100, 5116, 1200, 1224] }),
        L2: imp(linear(7, 56)),
      },
      { complete: false, reason: 'counter_replaced', events: [{ device: 'L1', quantity: 'ep_imp', kind: 'replaced', at: T0 + 7 * M, from: 5116, to: 1200 }] },
    ],
    [
      'no supply: complete, no rate',
      { T: imp(linear(1000, 0)), L1: imp(linear(50, 0)), L2: imp(linear(7, 0)) },
      { complete: true, supplyKwh: 0, salesKwh: 0, lossPct: null, reason: 'no_supply' },
    ],
  ];
  it.each(cases)('%s', (_what, meters, expected) => {
    const r = computeInterval(area, new Map(Object.entries(meters)), '15m', T0, OPTS, 42);
    expect(r).toMatchObject({ site: 's1', transformer: 't1', interval: '15m', start: T0, end: T0 + 15 * M, meters: 3, computedAt: 42, ...expected });
  });

  it('an area without a transformer meter or without sales meters has no figure', () => {
    expect(computeInterval({ ...area, supplyMeter: undefined } as Area, new Map(), '15m', T0, OPTS, 0)).toMatchObject({ complete: false, reason: 'no_transformer_meter', meters: 2 });
    expect(computeInterval({ ...area, salesMeters: [] }, new Map(), '15m', T0, OPTS, 0)).toMatchObject({ complete: false, reason: 'no_sales_meters', meters: 1 });
  });
});

describe('live estimate', () => {
  it('from one-minute mean power, PV export on the supply side', () => {
    expect(liveEstimate(area, new Map([['T', 100], ['L1', 40], ['L2', 56]]), T0)).toMatchObject({ complete: true, supplyKw: 100, salesKw: 96, lossPct: 4 });
    expect(liveEstimate(area, new Map([['T', 90], ['L1', -10], ['L2', 96]]), T0)).toMatchObject({ supplyKw: 100, salesKw: 96, lossPct: 4 });
    expect(liveEstimate(area, new Map([['T', 100], ['L2', 56]]), T0)).toMatchObject({ complete: false, lossPct: null, missing: ['L1'] });
  });
});
