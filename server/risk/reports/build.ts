/**
 * Gathers what a report needs from the source and builds its value: the
 * period checked against today (in the model's time zone), the stations a
 * user may see, their histories, the ranking, the items. A bad period is a
 * GW_ERR_HTTP_BAD_REQUEST with the reason; an unknown or hidden station is
 * GW_ERR_HTTP_NOT_FOUND.
 */
import type { StationRiskDay } from '../../../contract/risk.ts';
import { GridwatchError } from '../../errors.ts';
import { addDays, dailyPeriod, dayMs, isoWeekOf, localDay, monthlyPeriod, stationPeriod, weeklyPeriod, type Period, type PeriodResult } from './period.ts';
import { buildDailySheet, buildMonthlyAssessment, buildWeeklyBulletin, type CenterSheet } from './sheets.ts';
import type { RiskReportSource } from './source.ts';
import { buildStationReport, type ReportMeta, type StationReport } from './station-report.ts';

export type ReportRequest =
  | { kind: 'station'; station: string; from?: string; to?: string; day?: string }
  | { kind: 'daily'; day?: string }
  | { kind: 'weekly'; week?: string; day?: string }
  | { kind: 'monthly'; month?: string; day?: string };

export type Report = StationReport | CenterSheet;

/**
 * `day` instead of the period's own key: the week or month holding that day,
 * or a station report ending with it. Both given: 400.
 */
function byDay(own: string | undefined, ownKey: string, day: string | undefined, of: (day: string) => string): string | undefined {
  if (day === undefined) return own;
  if (own !== undefined) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `give ${ownKey} or day, not both`);
  if (dayMs(day) === null) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', `day: not a date YYYY-MM-DD: ${day}`);
  return of(day);
}

function checked(r: PeriodResult): Period {
  if (!r.ok) throw new GridwatchError('GW_ERR_HTTP_BAD_REQUEST', r.reason);
  return r.period;
}

/**
 * The report asked for, for a user who sees `allowed` stations (null: all).
 * A center sheet for a user scoped to some stations covers those stations
 * only. Without a day, week or month: the one holding the latest computed
 * day (today before the first run).
 */
export async function buildReport(source: RiskReportSource, req: ReportRequest, allowed: ReadonlySet<string> | null, now: number): Promise<Report> {
  const info = source.model();
  const today = localDay(now, info.timezone);
  // asked only when the request names no period: finding it may read every station's recent days
  const latest = async () => (await source.latestDay()) ?? today;
  const stations = source.stations().filter((s) => allowed === null || allowed.has(s.id)).map((s) => ({ id: s.id, name: s.name }));
  const meta = (period: Period): ReportMeta => ({
    period: { kind: period.kind, label: period.label, from: period.from, to: period.to },
    generatedAt: now,
    timezone: info.timezone,
    thresholds: info.thresholds,
    scope: allowed === null ? null : stations.map((s) => s.id),
  });
  const histories = async (from: string, to: string) => {
    if (source.historyAll) {
      const byStation = new Map<string, StationRiskDay[]>(stations.map((s) => [s.id, []]));
      for (const d of await source.historyAll(from, to)) byStation.get(d.station)?.push(d);
      return byStation as Map<string, readonly StationRiskDay[]>;
    }
    const all = await Promise.all(stations.map(async (s) => [s.id, await source.history(s.id, from, to)] as const));
    return new Map<string, readonly StationRiskDay[]>(all);
  };
  switch (req.kind) {
    case 'station': {
      const station = stations.find((s) => s.id === req.station);
      if (!station) throw new GridwatchError('GW_ERR_HTTP_NOT_FOUND', `no station ${req.station}`);
      const to = byDay(req.to, 'to', req.day, (d) => d);
      const period = checked(stationPeriod(req.from, to ?? (req.from === undefined ? await latest() : undefined), today));
      const [history, items] = await Promise.all([source.history(station.id, period.from, period.to), source.items()]);
      return buildStationReport({ meta: meta(period), period, station, history, items });
    }
    case 'daily': {
      const period = checked(dailyPeriod(req.day ?? (await latest()), today));
      // the day before only tells which codes changed: its stored days (one read), else its ranking; none before the first run
      const prev = addDays(period.from, -1);
      const before = async () => (source.historyAll ? source.historyAll(prev, prev) : (await source.ranking(prev)).rows);
      const [ranking, previous] = await Promise.all([source.ranking(period.from), before().catch(() => null)]);
      return buildDailySheet({ meta: meta(period), stations, ranking, previous });
    }
    case 'weekly': {
      const period = checked(weeklyPeriod(byDay(req.week, 'week', req.day, isoWeekOf) ?? isoWeekOf(await latest()), today));
      return buildWeeklyBulletin({ meta: meta(period), period, stations, histories: await histories(addDays(period.from, -7), period.to) });
    }
    case 'monthly': {
      const period = checked(monthlyPeriod(byDay(req.month, 'month', req.day, (d) => d.slice(0, 7)) ?? (await latest()).slice(0, 7), today));
      const [h, items] = await Promise.all([histories(period.from, period.to), source.items()]);
      return buildMonthlyAssessment({ meta: meta(period), period, stations, histories: h, items: items.filter((i) => allowed === null || allowed.has(i.station)) });
    }
    default: {
      const never: never = req;
      return never;
    }
  }
}

/** The file name of a report (ids are letters, digits, _ . -) */
export function reportFileName(r: Report, ext: string): string {
  const label = r.meta.period.kind === 'station' ? `${r.meta.period.from}_${r.meta.period.to}` : r.meta.period.label;
  const who = r.kind === 'station' ? `station-${r.station.id}` : r.kind;
  return `risk-${who}-${label}.${ext}`.replace(/[^A-Za-z0-9_.-]/g, '_');
}
