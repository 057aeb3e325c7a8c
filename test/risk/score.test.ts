/**
 * Score and code of one station: exact scores, codes and driving indicators
 * from a table of indicator values; no data, not available and invalid values
 * are reported as such and never scored; hysteresis holds a borderline
 * station steady where the bare thresholds would flip it; the daily
 * computation time in the model's zone.
 */
import { describe, expect, it } from 'vitest';
import { codeOf, nextComputeTime, parseRiskModel, scoreDays, scoreStation, type IndicatorValues, type RiskModel } from '../../server/risk/index.ts';

function model(over: Record<string, unknown> = {}): RiskModel {
  const r = parseRiskModel({
    thresholds: { yellow: 20, red: 40 },
    hysteresis: { margin: 5, enterDays: 1, leaveDays: 3 },
    indicators: [
      { id: 'repair-calls-per-1000', weight: 0.5, good: 0.5, bad: 3 },
      { id: 'ack-time-mean', weight: 0.3, good: 5, bad: 30 },
      { id: 'voltage-qualification', weight: 0.2, good: 99.5, bad: 95 },
    ],
    ...over,
  });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.model;
}

const M = model();
const v = (repair: number | null, ack: number | null, volt: number | null): IndicatorValues => ({
  'repair-calls-per-1000': repair, 'ack-time-mean': ack, 'voltage-qualification': volt,
});

describe('score and code', () => {
  it.each([
    // values → score, code, driving
    { name: 'all good', values: v(0.2, 3, 100), score: 0, code: 'green', driving: null },
    { name: 'repair calls halfway', values: v(1.75, 5, 99.5), score: 25, code: 'yellow', driving: 'repair-calls-per-1000' },
    { name: 'everything at bad', values: v(3, 30, 95), score: 100, code: 'red', driving: 'repair-calls-per-1000' },
    { name: 'ack and voltage halfway: ack weighs more', values: v(0.5, 17.5, 97.25), score: 25, code: 'yellow', driving: 'ack-time-mean' },
    { name: 'beyond bad is clamped', values: v(0, 0, 90), score: 20, code: 'yellow', driving: 'voltage-qualification' },
    { name: 'just under yellow', values: v(1.495, 5, 99.5), score: 19.9, code: 'green', driving: 'repair-calls-per-1000' },
    { name: 'exactly red', values: v(2.5, 5, 99.5), score: 40, code: 'red', driving: 'repair-calls-per-1000' },
    { name: 'no repair data: the rest re-weighted', values: v(null, 30, 99.5), score: 60, code: 'red', driving: 'ack-time-mean' },
  ])('$name', ({ values, score, code, driving }) => {
    const r = scoreStation(M, values);
    expect(r.score).toBe(score);
    expect(r.code).toBe(code);
    expect(r.rawCode).toBe(code);
    expect(r.driving).toBe(driving);
    expect(r.indicators.reduce((s, i) => s + (i.contribution ?? 0), 0)).toBeCloseTo(score, 6);
  });

  it('per-indicator results and dimensions', () => {
    const r = scoreStation(M, v(1.75, 17.5, null));
    expect(r.coverage).toBeCloseTo(0.8, 9);
    expect(r.indicators.map((i) => [i.id, i.status, i.value, i.normalised && Math.round(i.normalised * 1e6) / 1e6])).toEqual([
      ['repair-calls-per-1000', 'ok', 1.75, 50],
      ['ack-time-mean', 'ok', 17.5, 50],
      ['voltage-qualification', 'no-data', null, null],
    ]);
    expect(r.dimensions).toEqual({ demand: 50, handling: null, speed: 50 });
    expect(r.score).toBe(50);
  });

  it('less weight with data than minCoverage: no score and no code, the previous code kept for later', () => {
    const r = scoreStation(M, v(null, null, 95), { code: 'yellow', pending: null });
    expect(r).toMatchObject({ score: null, code: null, rawCode: null, driving: null, state: { code: 'yellow', pending: null } });
    expect(r.coverage).toBeCloseTo(0.2, 9);
    expect(scoreStation(M, {}).code).toBeNull();
  });

  it('a value that is not a finite number is reported invalid, never scored', () => {
    const r = scoreStation(M, { ...v(0.5, 5, 99.5), 'ack-time-mean': Number.NaN });
    expect(r.indicators[1]).toMatchObject({ status: 'invalid', value: null, normalised: null, contribution: null });
    expect(r.coverage).toBeCloseTo(0.7, 9);
    const inf = scoreStation(M, { ...v(0.5, 5, 99.5), 'repair-calls-per-1000': Number.POSITIVE_INFINITY });
    expect(inf.indicators[0]!.status).toBe('invalid');
  });

  it('an indicator without an input yet says "not available" even when a value is passed, and its weight is not counted', () => {
    const m = model({
      indicators: [
        { id: 'repair-calls-per-1000', weight: 0.6, good: 0.5, bad: 3 },
        { id: 'complaints', weight: 0.4, good: 0, bad: 3 },
      ],
    });
    const r = scoreStation(m, { 'repair-calls-per-1000': 3, complaints: 3 });
    expect(r.indicators[1]).toMatchObject({ id: 'complaints', status: 'not-available', value: null, contribution: null });
    expect(r.coverage).toBeCloseTo(0.6, 9);
    expect(r.score).toBe(100);
  });
});

describe('hysteresis', () => {
  /** repair calls giving exactly `score` with the other indicators at good */
  const day = (score: number) => v(0.5 + score / 20, 5, 99.5);
  const scores = [18, 21, 19, 17, 19, 16, 22, 14, 14, 16, 14, 14, 14, 19, 14];

  it('a borderline station around yellow (20) changes twice, where the bare thresholds flip it four times', () => {
    const days = scoreDays(M, scores.map(day));
    expect(days.map((d) => d.score)).toEqual(scores);
    const raw = days.map((d) => d.rawCode![0]).join('');
    const held = days.map((d) => d.code![0]).join('');
    expect(raw).toBe('gyggggyggggggg'.padEnd(15, 'g'));
    // yellow from its first day; green only after 3 days in a row below 20 − 5 (the 16 on day 9 restarts the count)
    expect(held).toBe('gyyyyyyyyyyyggg');
    const changes = (s: string) => [...s].filter((c, i) => i > 0 && c !== s[i - 1]).length;
    expect(changes(raw)).toBe(4);
    expect(changes(held)).toBe(2);
    expect(days[11]!.state).toEqual({ code: 'yellow', pending: { code: 'green', days: 2 } });
  });

  it('enterDays: a one-day spike does not raise the code; two days in a row raise it to the second day\'s code', () => {
    const m = model({ hysteresis: { margin: 5, enterDays: 2, leaveDays: 1 } });
    expect(scoreDays(m, [10, 45, 10, 45, 30, 10].map(day)).map((d) => d.code)).toEqual(['green', 'green', 'green', 'green', 'yellow', 'green']);
  });

  it('red is left for yellow below red − margin, and straight for green when the score falls below yellow − margin', () => {
    const m = model({ hysteresis: { margin: 5, enterDays: 1, leaveDays: 1 } });
    expect(scoreDays(m, [50, 36, 34, 16, 14].map(day)).map((d) => d.code)).toEqual(['red', 'red', 'yellow', 'yellow', 'green']);
    expect(scoreDays(m, [50, 10].map(day)).map((d) => d.code)).toEqual(['red', 'green']);
  });

  it('a day without enough data neither changes the code nor breaks a pending change', () => {
    const days = scoreDays(M, [day(30), day(10), {}, day(10), day(10)]);
    expect(days.map((d) => d.code)).toEqual(['yellow', 'yellow', null, 'yellow', 'green']);
  });

  it('codeOf: thresholds are "at or above"', () => {
    expect([19.99, 20, 39.99, 40].map((s) => codeOf(s, M.thresholds))).toEqual(['green', 'yellow', 'yellow', 'red']);
  });
});

describe('daily computation time', () => {
  it('the next computeAt in the model zone after now', () => {
    const m = { computeAt: '06:00', timezone: '+08:00' };
    // 2026-12-07 04:00 UTC is 12:00 in China: next 06:00 China is 2026-12-07 22:00 UTC
    expect(nextComputeTime(m, new Date('2026-12-07T04:00:00Z')).toISOString()).toBe('2026-12-07T22:00:00.000Z');
    expect(nextComputeTime(m, new Date('2026-12-06T21:59:00Z')).toISOString()).toBe('2026-12-06T22:00:00.000Z');
    expect(nextComputeTime(m, new Date('2026-12-06T22:00:00Z')).toISOString()).toBe('2026-12-07T22:00:00.000Z');
    expect(nextComputeTime({ computeAt: '23:30', timezone: '-05:00' }, new Date('2026-12-07T04:00:00Z')).toISOString()).toBe('2026-12-07T04:30:00.000Z');
  });
});
