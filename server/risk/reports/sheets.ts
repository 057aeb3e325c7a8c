/**
 * The command center's sheets (docs/risk.md, Reports): the daily monitoring
 * sheet (日监控), the weekly bulletin (周通报) and the monthly assessment
 * (月考评). Each is one value with its rows and its totals, computed once
 * here; HTML and CSV render the same value. Pure.
 */
import type { RiskCode, RiskItem, RiskRanking, RiskRankingRow, StationRiskDay } from '../../../contract/risk.ts';
import { addDays, dayStart, type Period } from './period.ts';
import type { ReportMeta } from './station-report.ts';
import { addCounts, codesOfDays, countCodes, itemCounts, maxOf, mean, noCounts, rankBy, round2, worstIndicator, type CodeCounts, type ItemCounts } from './totals.ts';

type Station = { id: string; name: string };

// ---------------------------------------------------------------- daily

export interface DailyRow extends RiskRankingRow {
  rank: number;
  /** the code of the day before; null when that day has none */
  previousCode: RiskCode | null;
  /** the code differs from the day before's (both days computed) */
  changed: boolean;
  /** score − previousScore */
  change: number | null;
}

export interface DailySheet {
  kind: 'daily';
  meta: ReportMeta;
  /** the day's ranking, worst first, as the ranking REST answer orders it */
  rows: DailyRow[];
  changed: { station: string; name: string; from: RiskCode | null; to: RiskCode | null }[];
  flagged: { station: string; name: string; highRiskDaysThisMonth: number }[];
  totals: {
    stations: number;
    codes: CodeCounts;
    highRisk: number;
    meanScore: number | null;
    changed: number;
    flagged: number;
    openItems: number;
  };
}

/**
 * The day's sheet from its ranking and the codes of the day before (the
 * stations' computed days of that day, or its ranking's rows; null: none),
 * limited to `stations`.
 */
export function buildDailySheet(input: { meta: ReportMeta; stations: readonly Station[]; ranking: RiskRanking; previous: readonly { station: string; code: RiskCode | null }[] | null }): DailySheet {
  const visible = new Set(input.stations.map((s) => s.id));
  const before = new Map((input.previous ?? []).map((r) => [r.station, r]));
  const rows: DailyRow[] = input.ranking.rows
    .filter((r) => visible.has(r.station))
    .map((r, i) => {
      const prev = before.get(r.station);
      const previousCode = prev?.code ?? null;
      return {
        ...r,
        rank: i + 1,
        previousCode,
        changed: prev !== undefined && (prev.code !== null || r.code !== null) && prev.code !== r.code,
        change: r.score !== null && r.previousScore !== null ? round2(r.score - r.previousScore) : null,
      };
    });
  const changed = rows.filter((r) => r.changed).map((r) => ({ station: r.station, name: r.name, from: r.previousCode, to: r.code }));
  const flagged = rows.filter((r) => r.flagged).map((r) => ({ station: r.station, name: r.name, highRiskDaysThisMonth: r.highRiskDaysThisMonth }));
  const codes = countCodes(rows.map((r) => r.code));
  return {
    kind: 'daily',
    meta: input.meta,
    rows,
    changed,
    flagged,
    totals: {
      stations: rows.length,
      codes,
      highRisk: codes.red + codes.yellow,
      meanScore: mean(rows.map((r) => r.score)),
      changed: changed.length,
      flagged: flagged.length,
      openItems: rows.reduce((s, r) => s + r.openItems, 0),
    },
  };
}

// ---------------------------------------------------------------- weekly

interface PeriodFigures {
  days: CodeCounts;
  highRiskDays: number;
  meanScore: number | null;
  maxScore: number | null;
  worst: string | null;
  /** the worst indicator's mean contribution to the score */
  worstContribution: number | null;
  /** the code of the period's last computed day */
  lastCode: RiskCode | null;
}

function figures(days: readonly string[], history: readonly StationRiskDay[]): PeriodFigures {
  const own = history.filter((d) => d.day >= days[0]! && d.day <= days.at(-1)!);
  const counts = countCodes(codesOfDays(days, own));
  const scores = own.map((d) => d.score);
  const worst = worstIndicator(own);
  const last = [...own].sort((a, b) => (a.day < b.day ? -1 : 1)).at(-1);
  return {
    days: counts,
    highRiskDays: counts.red + counts.yellow,
    meanScore: mean(scores),
    maxScore: maxOf(scores),
    worst: worst?.id ?? null,
    worstContribution: worst?.contribution ?? null,
    lastCode: last?.code ?? null,
  };
}

export interface WeeklyRow extends PeriodFigures {
  rank: number;
  station: string;
  name: string;
  previous: { rank: number; meanScore: number | null; highRiskDays: number } | null;
  /** meanScore − the previous week's */
  change: number | null;
  /** previous rank − rank: above 0, the station moved towards the top (worse) */
  rankChange: number | null;
}

export interface WeeklyBulletin {
  kind: 'weekly';
  meta: ReportMeta;
  /** worst first: mean score, then high-risk days */
  rows: WeeklyRow[];
  totals: {
    stations: number;
    /** station-days per code */
    days: CodeCounts;
    /** stations with a red or yellow day */
    highRiskStations: number;
    meanScore: number | null;
    previousMeanScore: number | null;
    change: number | null;
  };
}

/** ranks a period's stations worst first by mean score, then high-risk days */
function rankWeek(stations: readonly Station[], days: readonly string[], histories: ReadonlyMap<string, readonly StationRiskDay[]>) {
  return rankBy(
    stations.map((s) => ({ rank: 0, station: s.id, name: s.name, ...figures(days, histories.get(s.id) ?? []) })),
    [(r) => r.meanScore, (r) => r.highRiskDays],
  );
}

/** `histories`: each station's days of the week and the week before */
export function buildWeeklyBulletin(input: { meta: ReportMeta; period: Period; stations: readonly Station[]; histories: ReadonlyMap<string, readonly StationRiskDay[]> }): WeeklyBulletin {
  const prevDays = input.period.days.map((d) => addDays(d, -7));
  const previous = new Map(rankWeek(input.stations, prevDays, input.histories).map((r) => [r.station, r]));
  const rows: WeeklyRow[] = rankWeek(input.stations, input.period.days, input.histories).map((r) => {
    const p = previous.get(r.station)!;
    const had = p.days.none < prevDays.length;
    return {
      ...r,
      previous: had ? { rank: p.rank, meanScore: p.meanScore, highRiskDays: p.highRiskDays } : null,
      change: had && r.meanScore !== null && p.meanScore !== null ? round2(r.meanScore - p.meanScore) : null,
      rankChange: had && r.meanScore !== null && p.meanScore !== null ? p.rank - r.rank : null,
    };
  });
  const meanScore = mean(rows.map((r) => r.meanScore));
  const previousMeanScore = mean([...previous.values()].map((r) => r.meanScore));
  return {
    kind: 'weekly',
    meta: input.meta,
    rows,
    totals: {
      stations: rows.length,
      days: rows.reduce((c, r) => addCounts(c, r.days), noCounts()),
      highRiskStations: rows.filter((r) => r.highRiskDays > 0).length,
      meanScore,
      previousMeanScore,
      change: meanScore !== null && previousMeanScore !== null ? round2(meanScore - previousMeanScore) : null,
    },
  };
}

// ---------------------------------------------------------------- monthly

/** more high-risk days than this in a month single a station out */
export const FLAG_DAYS = 7;

export interface MonthlyRow extends PeriodFigures {
  rank: number;
  station: string;
  name: string;
  /** more than 7 red or yellow days in the month */
  flagged: boolean;
  items: ItemCounts;
}

export interface MonthlyAssessment {
  kind: 'monthly';
  meta: ReportMeta;
  /** worst first: high-risk days, then mean score */
  rows: MonthlyRow[];
  totals: {
    stations: number;
    days: CodeCounts;
    highRiskDays: number;
    flagged: number;
    meanScore: number | null;
    items: ItemCounts;
  };
}

export function buildMonthlyAssessment(input: {
  meta: ReportMeta;
  period: Period;
  stations: readonly Station[];
  histories: ReadonlyMap<string, readonly StationRiskDay[]>;
  items: readonly RiskItem[];
}): MonthlyAssessment {
  const tz = input.meta.timezone;
  const from = dayStart(input.period.from, tz);
  const to = dayStart(addDays(input.period.to, 1), tz);
  const rows = rankBy(
    input.stations.map((s) => {
      const f = figures(input.period.days, input.histories.get(s.id) ?? []);
      return { rank: 0, station: s.id, name: s.name, ...f, flagged: f.highRiskDays > FLAG_DAYS, items: itemCounts(input.items.filter((i) => i.station === s.id), from, to) };
    }),
    [(r) => r.highRiskDays, (r) => r.meanScore],
  );
  return {
    kind: 'monthly',
    meta: input.meta,
    rows,
    totals: {
      stations: rows.length,
      days: rows.reduce((c, r) => addCounts(c, r.days), noCounts()),
      highRiskDays: rows.reduce((s, r) => s + r.highRiskDays, 0),
      flagged: rows.filter((r) => r.flagged).length,
      meanScore: mean(rows.map((r) => r.meanScore)),
      items: rows.reduce((c, r) => ({ opened: c.opened + r.items.opened, closed: c.closed + r.items.closed, overdue: c.overdue + r.items.overdue, open: c.open + r.items.open }), { opened: 0, closed: 0, overdue: 0, open: 0 }),
    },
  };
}

export type CenterSheet = DailySheet | WeeklyBulletin | MonthlyAssessment;
