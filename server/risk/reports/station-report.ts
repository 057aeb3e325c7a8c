/**
 * The risk report of one station (docs/risk.md, Reports): its code and score
 * on the last computed day of the period, the trend of the period, each
 * indicator of that day with value, unit, normalised score and contribution,
 * the driving one, and the risk items open during the period with their
 * follow-ups. Pure; HTML and CSV render this one value.
 */
import type { RiskCode, RiskDimension, RiskIndicatorStatus, RiskItem, RiskItemEvent, RiskItemState, RiskRunKind, StationRiskDay } from '../../../contract/risk.ts';
import { INDICATORS, isIndicatorId } from '../catalogue.ts';
import { withSteps } from '../items/steps.ts';
import type { Period } from './period.ts';
import { dayStart, addDays } from './period.ts';
import type { ReportModelInfo } from './source.ts';
import { countCodes, codesOfDays, itemsTouching, maxOf, mean, round2, type CodeCounts } from './totals.ts';

export interface ReportMeta {
  period: Omit<Period, 'days'>;
  /** epoch ms */
  generatedAt: number;
  timezone: string;
  thresholds: ReportModelInfo['thresholds'];
  /** the stations a scoped user's report is limited to; null: every station */
  scope: string[] | null;
}

export interface ReportItem {
  id: string;
  state: RiskItemState;
  openedCode: RiskCode;
  code: RiskCode | null;
  day: string;
  driving: string | null;
  /** epoch ms */
  openedAt: number;
  dueAt: number;
  closedAt: number | null;
  escalated: boolean;
  assignees: string[];
  events: RiskItemEvent[];
}

export interface ReportIndicator {
  id: string;
  dimension: RiskDimension;
  /** the catalogue's unit ('%', 'min', 'calls / 1,000 customers' …); '' for an id the catalogue does not know */
  unit: string;
  weight: number;
  status: RiskIndicatorStatus;
  value: number | null;
  normalised: number | null;
  contribution: number | null;
  /** the day's driving indicator */
  driving: boolean;
}

export interface StationReport {
  kind: 'station';
  meta: ReportMeta;
  station: { id: string; name: string };
  /** the last computed day of the period; null when the period has none */
  latest: {
    day: string;
    run: RiskRunKind;
    /** epoch ms */
    computedAt: number;
    code: RiskCode | null;
    rawCode: RiskCode | null;
    score: number | null;
    coverage: number;
    driving: string | null;
    dimensions: Record<RiskDimension, number | null>;
  } | null;
  /** every day of the period, oldest first; null where nothing was computed */
  trend: { day: string; score: number | null; code: RiskCode | null }[];
  indicators: ReportIndicator[];
  totals: {
    /** days of the period with computed figures */
    computedDays: number;
    /** days of the period per code (none: not computed or no score) */
    days: CodeCounts;
    highRiskDays: number;
    meanScore: number | null;
    maxScore: number | null;
    /** last score minus the first score of the period; null with fewer than two scores */
    change: number | null;
  };
  items: ReportItem[];
}

export function reportItem(i: RiskItem): ReportItem {
  return {
    id: i.id, state: i.state, openedCode: i.openedCode, code: i.code, day: i.day, driving: i.driving, openedAt: i.openedAt,
    dueAt: i.dueAt, closedAt: i.closedAt, escalated: i.escalated, assignees: i.assignees.map((a) => a.name), events: [...withSteps(i).events].sort((a, b) => a.at - b.at),
  };
}

export function buildStationReport(input: {
  meta: ReportMeta;
  period: Period;
  station: { id: string; name: string };
  history: readonly StationRiskDay[];
  items: readonly RiskItem[];
}): StationReport {
  const { period, station } = input;
  const inPeriod = input.history.filter((d) => d.station === station.id && d.day >= period.from && d.day <= period.to).sort((a, b) => (a.day < b.day ? -1 : 1));
  const byDay = new Map(inPeriod.map((d) => [d.day, d]));
  const trend = period.days.map((day) => ({ day, score: byDay.get(day)?.score ?? null, code: byDay.get(day)?.code ?? null }));
  const last = inPeriod.at(-1) ?? null;
  const scores = trend.map((t) => t.score).filter((s): s is number => s !== null);
  const days = countCodes(codesOfDays(period.days, inPeriod));
  const indicators: ReportIndicator[] = (last?.indicators ?? []).map((i) => ({
    id: i.id,
    dimension: i.dimension,
    unit: isIndicatorId(i.id) ? INDICATORS[i.id].unit : '',
    weight: i.weight,
    status: i.status,
    value: i.value,
    normalised: i.normalised === null ? null : round2(i.normalised),
    contribution: i.contribution === null ? null : round2(i.contribution),
    driving: last?.driving === i.id,
  }));
  const tz = input.meta.timezone;
  return {
    kind: 'station',
    meta: input.meta,
    station,
    latest: last && {
      day: last.day, run: last.run, computedAt: last.computedAt, code: last.code, rawCode: last.rawCode, score: last.score,
      coverage: round2(last.coverage), driving: last.driving, dimensions: last.dimensions,
    },
    trend,
    indicators,
    totals: {
      computedDays: inPeriod.length,
      days,
      highRiskDays: days.red + days.yellow,
      meanScore: mean(scores),
      maxScore: maxOf(scores),
      change: scores.length >= 2 ? round2(scores.at(-1)! - scores[0]!) : null,
    },
    items: itemsTouching(input.items, station.id, dayStart(period.from, tz), dayStart(addDays(period.to, 1), tz)).map(reportItem),
  };
}
