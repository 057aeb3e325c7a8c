/**
 * Score and code of one station for one day (docs/risk.md, Score and code).
 *
 * Pure, no clock: the caller passes the station's indicator values for the
 * day and the state carried from its previous day. Each indicator is
 * normalised linearly to 0–100 between its `good` and `bad` values (clamped),
 * the score is the weighted mean over the indicators that have data, and the
 * code follows from the thresholds with hysteresis over the previous code.
 */
import { RISK_CODES, type RiskCode, type RiskDimension } from '../../contract/risk.ts';
import { INDICATORS, type IndicatorId } from './catalogue.ts';
import type { RiskIndicator, RiskModel } from './model.ts';

// the codes are the wire's (contract/risk.ts)
export { RISK_CODES, type RiskCode };

/** one station's values for the day; absent or null → no data */
export type IndicatorValues = Partial<Record<IndicatorId, number | null>>;

export type IndicatorStatus =
  /** scored */
  | 'ok'
  /** the station had no value for it (e.g. no customers for a per-1,000 rate) */
  | 'no-data'
  /** gridwatch has no input for this indicator yet (catalogue `available: false`) */
  | 'not-available'
  /** the value was not a finite number; not scored */
  | 'invalid';

export interface IndicatorResult {
  id: IndicatorId;
  dimension: RiskDimension;
  weight: number;
  status: IndicatorStatus;
  value: number | null;
  /** 0 (good) – 100 (bad) */
  normalised: number | null;
  /** its share of the score: weight × normalised ÷ the weight with data */
  contribution: number | null;
}

/** What one day passes to the next. */
export interface HysteresisState {
  code: RiskCode;
  /** a different code seen on consecutive days but not yet taken */
  pending: { code: RiskCode; days: number } | null;
}

export interface StationRisk {
  /** 0–100 rounded to 0.01; null when less than minCoverage of the weight has data */
  score: number | null;
  /** share of the model's weight whose indicators had data, 0–1 */
  coverage: number;
  /** the code the thresholds alone give for today's score */
  rawCode: RiskCode | null;
  /** the code after hysteresis: what the station shows; null without a score */
  code: RiskCode | null;
  /** the indicator with the largest contribution to the risk; null when nothing contributes */
  driving: IndicatorId | null;
  /** weighted mean score per dimension over its indicators with data */
  dimensions: Record<RiskDimension, number | null>;
  indicators: IndicatorResult[];
  /** pass to the next day's call */
  state: HysteresisState | null;
}

const RANK: Record<RiskCode, number> = { green: 0, yellow: 1, red: 2 };

/** 0 at or better than `good`, 100 at or worse than `bad`, linear between. */
export function normalise(ind: Pick<RiskIndicator, 'good' | 'bad'>, value: number): number {
  const t = (value - ind.good) / (ind.bad - ind.good);
  return Math.min(1, Math.max(0, t)) * 100;
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The code a score gives, thresholds lowered by `lower` (the hysteresis margin when leaving). */
export function codeOf(score: number, t: RiskModel['thresholds'], lower = 0): RiskCode {
  if (score >= t.red - lower) return 'red';
  if (score >= t.yellow - lower) return 'yellow';
  return 'green';
}

/**
 * The day's code given the previous day's state. Without a previous state the
 * station takes its raw code. A higher code is taken after `enterDays`
 * consecutive days at or above it; a lower one only when the score is
 * `margin` below the current code's threshold, on `leaveDays` consecutive
 * days. A day that would keep the current code ends any pending change.
 */
export function nextCode(prev: HysteresisState | null, score: number, model: RiskModel): HysteresisState {
  const raw = codeOf(score, model.thresholds);
  if (prev === null) return { code: raw, pending: null };
  const current = prev.code;
  let target: RiskCode = current;
  if (RANK[raw] > RANK[current]) target = raw;
  else {
    const lowered = codeOf(score, model.thresholds, model.hysteresis.margin);
    if (RANK[lowered] < RANK[current]) target = lowered;
  }
  if (target === current) return { code: current, pending: null };
  const up = RANK[target] > RANK[current];
  const same = prev.pending !== null && RANK[prev.pending.code] > RANK[current] === up;
  const days = same ? prev.pending!.days + 1 : 1;
  const need = up ? model.hysteresis.enterDays : model.hysteresis.leaveDays;
  return days >= need ? { code: target, pending: null } : { code: current, pending: { code: target, days } };
}

/** One station, one day. `prev` is the state its previous day returned (null for the first day). */
export function scoreStation(model: RiskModel, values: IndicatorValues, prev: HysteresisState | null = null): StationRisk {
  const results: IndicatorResult[] = model.indicators.map((ind) => {
    const base = { id: ind.id, dimension: ind.dimension, weight: ind.weight, normalised: null, contribution: null };
    if (!ind.available || !INDICATORS[ind.id].available) return { ...base, status: 'not-available', value: null };
    const v = values[ind.id];
    if (v === undefined || v === null) return { ...base, status: 'no-data', value: null };
    if (typeof v !== 'number' || !Number.isFinite(v)) return { ...base, status: 'invalid', value: null };
    return { ...base, status: 'ok', value: v, normalised: normalise(ind, v) };
  });
  const scored = results.filter((r) => r.status === 'ok' && r.weight > 0);
  const totalWeight = model.indicators.reduce((s, i) => s + i.weight, 0);
  const withData = scored.reduce((s, r) => s + r.weight, 0);
  const coverage = totalWeight > 0 ? withData / totalWeight : 0;
  for (const r of scored) r.contribution = (r.weight * r.normalised!) / withData;
  const dimensions = { demand: null, handling: null, speed: null } as Record<RiskDimension, number | null>;
  for (const d of Object.keys(dimensions) as RiskDimension[]) {
    const inD = scored.filter((r) => r.dimension === d);
    const w = inD.reduce((s, r) => s + r.weight, 0);
    if (w > 0) dimensions[d] = round2(inD.reduce((s, r) => s + r.weight * r.normalised!, 0) / w);
  }
  if (withData === 0 || coverage + 1e-9 < model.minCoverage) {
    // no code without enough data; the previous code is carried unchanged for when data returns
    return { score: null, coverage, rawCode: null, code: null, driving: null, dimensions, indicators: results, state: prev };
  }
  const score = round2(scored.reduce((s, r) => s + r.contribution!, 0));
  let driving: IndicatorResult | null = null;
  for (const r of scored) if (r.contribution! > 0 && (driving === null || r.contribution! > driving.contribution!)) driving = r;
  const state = nextCode(prev, score, model);
  return { score, coverage, rawCode: codeOf(score, model.thresholds), code: state.code, driving: driving?.id ?? null, dimensions, indicators: results, state };
}

/**
 * A station's days in order: each day's values scored with the state the day
 * before left (null values → a day without a code that keeps the state).
 */
export function scoreDays(model: RiskModel, days: readonly IndicatorValues[], initial: HysteresisState | null = null): StationRisk[] {
  let state = initial;
  return days.map((values) => {
    const r = scoreStation(model, values, state);
    state = r.state;
    return r;
  });
}

/**
 * When the next daily computation is due after `now`: the model's `computeAt`
 * in its `timezone`. Pure: `now` is passed in.
 */
export function nextComputeTime(model: Pick<RiskModel, 'computeAt' | 'timezone'>, now: Date): Date {
  const [h, m] = model.computeAt.split(':').map(Number) as [number, number];
  const sign = model.timezone.startsWith('-') ? -1 : 1;
  const [oh, om] = model.timezone.slice(1).split(':').map(Number) as [number, number];
  const offsetMs = sign * (oh * 60 + om) * 60_000;
  const local = new Date(now.getTime() + offsetMs);
  let due = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate(), h, m) - offsetMs;
  if (due <= now.getTime()) due += 86_400_000;
  return new Date(due);
}
