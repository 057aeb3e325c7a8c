/**
 * The reports' figures as CSV (UTF-8 with BOM, CRLF; server/csv.ts), headers
 * in the language asked. Each file: the report's table with a total row,
 * then an empty line and the report's totals as label,value rows — the same
 * totals the HTML shows, taken from the same report value. A center sheet's
 * table has the columns of columns.ts, which the HTML prints as well. A station report
 * has its indicator table, then the score per day, then its totals.
 */
import { CSV_BOM, csvRow, type CsvValue } from '../../csv.ts';
import type { RiskCode } from '../../../contract/risk.ts';
import { DAILY_COLUMNS, MONTHLY_COLUMNS, WEEKLY_COLUMNS, type SheetColumn } from './columns.ts';
import { CODE_WORDS, DIMENSION_WORDS, STATUS_WORDS, codeWord, indicatorName, msg, unitWord, type MessageKey, type ReportLang } from './messages.ts';
import type { CenterSheet, DailySheet, MonthlyAssessment, WeeklyBulletin } from './sheets.ts';
import type { StationReport } from './station-report.ts';
import type { CodeCounts } from './totals.ts';

const yn = (lang: ReportLang, v: boolean) => msg(lang, v ? 'yes' : 'no');

function table(head: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return csvRow(head) + rows.map((r) => csvRow(r)).join('');
}

function totalsBlock(lang: ReportLang, pairs: readonly [MessageKey | string, CsvValue][]): string {
  return '\r\n' + pairs.map(([k, v]) => csvRow([k in CODE_WORDS[lang] ? CODE_WORDS[lang][k as keyof CodeCounts] : msg(lang, k as MessageKey), v])).join('');
}

/** A center sheet's ranking: its columns' headers, a line per row, the total row. */
function sheetTable<R, T>(lang: ReportLang, columns: readonly SheetColumn<R, T>[], rows: readonly R[], totals: T): string {
  const cell = (c: SheetColumn<R, T>, r: R): CsvValue => {
    const v = c.value(r);
    if (c.show === 'code') return codeWord(lang, (v ?? null) as RiskCode | null);
    if (c.show === 'yes-no') return yn(lang, v === true);
    if (c.show === 'indicator') return indicatorName(lang, (v ?? null) as string | null);
    return v;
  };
  return table(
    columns.map((c) => msg(lang, c.head)),
    [...rows.map((r) => columns.map((c) => cell(c, r))), columns.map((c) => (c.total ? c.total(totals, lang) : ''))],
  );
}

const codePairs = (c: CodeCounts): [string, number][] => [['red', c.red], ['yellow', c.yellow], ['green', c.green], ['none', c.none]];

export function dailyCsv(s: DailySheet, lang: ReportLang): string {
  const t = s.totals;
  return CSV_BOM + sheetTable(lang, DAILY_COLUMNS, s.rows, t) + totalsBlock(lang, [['stations', t.stations], ...codePairs(t.codes), ['high_risk', t.highRisk], ['mean_score', t.meanScore], ['changed_title', t.changed], ['flagged', t.flagged], ['open_items', t.openItems]]);
}

export function weeklyCsv(s: WeeklyBulletin, lang: ReportLang): string {
  const t = s.totals;
  return CSV_BOM + sheetTable(lang, WEEKLY_COLUMNS, s.rows, t) + totalsBlock(lang, [['stations', t.stations], ['high_risk_stations', t.highRiskStations], ...codePairs(t.days), ['mean_score', t.meanScore], ['previous_week', t.previousMeanScore], ['week_change', t.change]]);
}

export function monthlyCsv(s: MonthlyAssessment, lang: ReportLang): string {
  const t = s.totals;
  return CSV_BOM + sheetTable(lang, MONTHLY_COLUMNS, s.rows, t) + totalsBlock(lang, [['stations', t.stations], ['high_risk_days', t.highRiskDays], ['flagged', t.flagged], ['mean_score', t.meanScore], ['items_opened', t.items.opened], ['items_closed', t.items.closed], ['items_overdue', t.items.overdue], ['items_open', t.items.open]]);
}

export function stationCsv(r: StationReport, lang: ReportLang): string {
  const m = (k: MessageKey) => msg(lang, k);
  const t = r.totals;
  const ind = table(
    [m('indicator'), m('indicator') + ' id', m('dimension'), m('value'), m('unit'), m('weight'), m('normalised'), m('contribution'), m('status'), m('driving')],
    [
      ...r.indicators.map((i) => [indicatorName(lang, i.id), i.id, DIMENSION_WORDS[lang][i.dimension] ?? i.dimension, i.value, unitWord(lang, i.unit), i.weight, i.normalised, i.contribution, STATUS_WORDS[lang][i.status] ?? i.status, i.driving ? m('yes') : '']),
      [m('total'), '', '', '', '', '', '', r.latest?.score, '', ''],
    ],
  );
  const trend = table([m('day'), m('code'), m('score')], r.trend.map((p) => [p.day, codeWord(lang, p.code), p.score]));
  const l = r.latest;
  return (
    CSV_BOM + ind + '\r\n' + trend +
    totalsBlock(lang, [['station_id', r.station.id], ['station', r.station.name], ['day', l?.day], ['code', codeWord(lang, l?.code ?? null)], ['score', l?.score], ['coverage', l?.coverage], ['driving', indicatorName(lang, l?.driving ?? null)], ['trend_days', t.computedDays], ...codePairs(t.days), ['high_risk_days', t.highRiskDays], ['mean_score', t.meanScore], ['max_score', t.maxScore], ['change', t.change]])
  );
}

export function reportCsv(r: StationReport | CenterSheet, lang: ReportLang): string {
  switch (r.kind) {
    case 'station':
      return stationCsv(r, lang);
    case 'daily':
      return dailyCsv(r, lang);
    case 'weekly':
      return weeklyCsv(r, lang);
    case 'monthly':
      return monthlyCsv(r, lang);
    default: {
      const never: never = r;
      return never;
    }
  }
}
