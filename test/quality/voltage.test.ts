/**
 * The pure part of voltage qualification and available capacity: GB/T 12325
 * limits by class, the class a meter's data tells, how minutes are counted
 * (a minute both above and below is outside once), day and month periods in
 * a zone (a leap February, a month across the zone's midnight), percentiles.
 */
import { describe, expect, it } from 'vitest';
import { capacityOf, percentile } from '../../server/quality/capacity.ts';
import { classOf, figuresOf, limitsOf, periodOf, tallyMinutes } from '../../server/quality/voltage.ts';

describe('voltage qualification, pure', () => {
  it('limits: single-phase +7 % / −10 %, three-phase ±7 % on phase and line voltages', () => {
    expect(limitsOf('single_phase')).toMatchObject({ phaseHiV: 235.4, phaseLoV: 198 });
    expect(limitsOf('three_phase')).toMatchObject({ phaseHiV: 235.4, phaseLoV: 204.6, lineHiV: 406.6, lineLoV: 353.4 });
    expect(limitsOf('three_phase', 230)).toMatchObject({ phaseHiV: 246.1, phaseLoV: 213.9, lineHiV: 428, lineLoV: 372 });
  });

  it('class from the data: a second phase or a line voltage makes it three-phase', () => {
    const m = (n: number) => new Map([[0, n]]);
    expect(classOf({ ua: m(220) })).toBe('single_phase');
    expect(classOf({ ua: m(220), uc: m(221) })).toBe('three_phase');
    expect(classOf({ uab: m(380) })).toBe('three_phase');
  });

  it('counts each minute once: inside, above, below; a minute with one phase above and another below is outside once', () => {
    const lim = limitsOf('three_phase');
    const ua = new Map([[0, 220], [1, 240], [2, 240], [3, 220]]);
    const ub = new Map([[0, 220], [1, 220], [2, 200], [4, 200]]);
    const t = tallyMinutes({ ua, ub }, lim);
    expect(t).toEqual({ monitoredMin: 5, insideMin: 2, aboveMin: 2, belowMin: 2, outageMin: 0 });
    expect(figuresOf(t)).toMatchObject({ ratePct: 40, abovePct: 40, belowPct: 40 });
    expect(figuresOf({ monitoredMin: 0, insideMin: 0, aboveMin: 0, belowMin: 0, outageMin: 0 }).ratePct).toBeNull();
    // line voltages against √3 × nominal ±7 %
    expect(tallyMinutes({ uab: new Map([[0, 410], [1, 380]]) }, lim)).toEqual({ monitoredMin: 2, insideMin: 1, aboveMin: 1, belowMin: 0, outageMin: 0 });
  });

  it('an outage minute (every voltage below 10 % of nominal) is not monitored time; one dark phase is a low voltage', () => {
    const lim = limitsOf('three_phase');
    // minutes 0-1 normal, 2-4 the supply is interrupted (a meter on its battery reports ~0 V), 5 one phase lost
    const ua = new Map([[0, 220], [1, 221], [2, 0], [3, 1.5], [4, 0], [5, 0]]);
    const ub = new Map([[0, 220], [1, 219], [2, 0], [3, 0.8], [4, 21.9], [5, 222]]);
    const t = tallyMinutes({ ua, ub }, lim);
    expect(t).toEqual({ monitoredMin: 3, insideMin: 2, aboveMin: 0, belowMin: 1, outageMin: 3 });
    expect(figuresOf(t).ratePct).toBe(66.67);
    // a day of 1,440 minutes with an hour dark and 60 low minutes: 1,320 of 1,380 monitored inside
    const day = new Map<number, number>();
    for (let m = 0; m < 1440; m++) day.set(m, m < 60 ? 0 : m < 120 ? 190 : 220);
    expect(figuresOf(tallyMinutes({ ua: day }, limitsOf('single_phase')))).toMatchObject({ monitoredMin: 1380, outageMin: 60, belowMin: 60, ratePct: 95.65 });
    // line voltages: dark below 10 % of √3 × nominal (38.1 V)
    expect(tallyMinutes({ uab: new Map([[0, 38], [1, 39]]) }, lim)).toMatchObject({ monitoredMin: 1, outageMin: 1, belowMin: 1 });
  });

  it('periods: a day from local midnight; a month of its days, February of a leap year, in the zone given', () => {
    expect(periodOf('2026-11-03', undefined, '+08:00')).toMatchObject({ kind: 'day', from: Date.UTC(2026, 10, 2, 16), to: Date.UTC(2026, 10, 3, 16) });
    const feb = periodOf(undefined, '2028-02', '+08:00')!;
    expect(feb.days).toHaveLength(29);
    expect(feb.from).toBe(Date.UTC(2028, 0, 31, 16));
    expect(feb.to).toBe(Date.UTC(2028, 1, 29, 16));
    expect(periodOf(undefined, '2026-12', 'Z')!.to).toBe(Date.UTC(2027, 0, 1));
    expect(periodOf('2026-02-29', undefined, 'Z')).toBeNull();
    expect(periodOf('2026-1-3', undefined, 'Z')).toBeNull();
    expect(periodOf(undefined, '2026-00', 'Z')).toBeNull();
    expect(periodOf(undefined, undefined, 'Z')).toBeNull();
  });
});

describe('available capacity, pure', () => {
  it('nearest-rank percentile; rated minus the maximum and the 95th percentile; nothing without data', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    const c = capacityOf(500, [0, 1, 2, 3], [20, null, 110, 60]);
    expect(c).toMatchObject({ intervals: 3, maxKva: 550, maxAt: 2, availableKva: -50, maxLoadPct: 110, p95Kva: 550 });
    expect(capacityOf(500, [], []).availableKva).toBeNull();
  });
});
