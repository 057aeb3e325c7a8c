/**
 * The columns of the center sheets' ranking tables, one list per sheet that
 * the CSV (csv.ts) and the HTML (html.ts) both render: the header, the row's
 * value, how it is shown, and the total row's value. A column's `show` says
 * how both formats write it (CSV: the plain value or word; HTML: formatted,
 * escaped, coloured); `html: false` keeps a column out of the printed table
 * (ids and figures the HTML shows elsewhere); `htmlCell` gives a cell its
 * own HTML, `printedTotal` a total cell its own text in the HTML only.
 */
import type { CsvValue } from '../../csv.ts';
import { num } from './html-page.ts';
import { esc } from './svg.ts';
import { CODE_WORDS, indicatorName, msg, type MessageKey, type ReportLang } from './messages.ts';
import type { DailyRow, DailySheet, MonthlyAssessment, MonthlyRow, WeeklyBulletin, WeeklyRow } from './sheets.ts';

/** int: a count; score: a number to 2 decimals; delta: a signed change; code: a risk code; yes-no; indicator: an indicator id; name: a station name; text */
export type ColumnShow = 'int' | 'score' | 'delta' | 'code' | 'yes-no' | 'indicator' | 'name' | 'text';

export interface SheetColumn<R, T> {
  head: MessageKey;
  show: ColumnShow;
  value: (r: R) => CsvValue;
  /** the total row's value (none: empty) */
  total?: (t: T, lang: ReportLang) => CsvValue;
  /** false: CSV only */
  html?: false;
  /** the cell's own HTML (escaping its values) inside the cell `show` gives */
  htmlCell?: (r: R, lang: ReportLang) => string;
  /** the total cell's text in the HTML only (the CSV's total rows carry these figures in their totals block) */
  printedTotal?: (t: T, lang: ReportLang) => string;
}

type Columns<R, T> = readonly SheetColumn<R, T>[];
const numeric: ReadonlySet<ColumnShow> = new Set(['int', 'score', 'delta']);
export const isNumeric = (c: SheetColumn<never, never>) => numeric.has(c.show);

const rank = <R extends { rank: number }, T>(): SheetColumn<R, T> => ({ head: 'rank', show: 'int', value: (r) => r.rank });
const stationId = <R extends { station: string }, T>(): SheetColumn<R, T> => ({ head: 'station_id', show: 'text', value: (r) => r.station, html: false });
/** the total row's label stands in the station name's column */
const stationName = <R extends { name: string }, T>(): SheetColumn<R, T> => ({ head: 'station', show: 'name', value: (r) => r.name, total: (_t, lang) => msg(lang, 'total') });

const days = <R extends { days: { red: number; yellow: number; green: number; none: number } }, T extends { days: { red: number; yellow: number; green: number; none: number } }>(): SheetColumn<R, T>[] =>
  (['red', 'yellow', 'green', 'none'] as const).map((k) => ({ head: `days_${k}` as MessageKey, show: 'int', value: (r: R) => r.days[k], total: (t: T) => t.days[k] }));

export const DAILY_COLUMNS: Columns<DailyRow, DailySheet['totals']> = [
  rank(),
  stationId(),
  stationName(),
  {
    head: 'code',
    show: 'code',
    value: (r) => r.code,
    printedTotal: (t, lang) => `${CODE_WORDS[lang].red} ${t.codes.red} · ${CODE_WORDS[lang].yellow} ${t.codes.yellow} · ${CODE_WORDS[lang].green} ${t.codes.green}`,
  },
  { head: 'score', show: 'score', value: (r) => r.score, total: (t) => t.meanScore },
  { head: 'change', show: 'delta', value: (r) => r.change },
  { head: 'previous_code', show: 'code', value: (r) => r.previousCode },
  { head: 'driving', show: 'indicator', value: (r) => r.driving },
  { head: 'high_risk_days_month', show: 'int', value: (r) => r.highRiskDaysThisMonth },
  { head: 'flagged', show: 'yes-no', value: (r) => r.flagged, total: (t) => t.flagged },
  { head: 'open_items', show: 'int', value: (r) => r.openItems, total: (t) => t.openItems },
];

export const WEEKLY_COLUMNS: Columns<WeeklyRow, WeeklyBulletin['totals']> = [
  rank(),
  stationId(),
  stationName(),
  { head: 'mean_score', show: 'score', value: (r) => r.meanScore, total: (t) => t.meanScore },
  { head: 'week_change', show: 'delta', value: (r) => r.change, total: (t) => t.change },
  { head: 'previous_rank', show: 'int', value: (r) => r.previous?.rank, html: false },
  {
    head: 'rank_change',
    show: 'int',
    value: (r) => r.rankChange,
    // up the ranking (worse) ↑, down ↓
    htmlCell: (r) => (r.rankChange === null ? '<span class="muted">–</span>' : r.rankChange > 0 ? `<span class="up">↑${r.rankChange}</span>` : r.rankChange < 0 ? `<span class="down">↓${-r.rankChange}</span>` : '0'),
  },
  ...days<WeeklyRow, WeeklyBulletin['totals']>(),
  { head: 'high_risk_days', show: 'int', value: (r) => r.highRiskDays, total: (t) => t.days.red + t.days.yellow, html: false },
  { head: 'max_score', show: 'score', value: (r) => r.maxScore, html: false },
  {
    head: 'worst',
    show: 'indicator',
    value: (r) => r.worst,
    // the printed table has no share column: the share stands beside the indicator
    htmlCell: (r, lang) => (r.worst ? `${esc(indicatorName(lang, r.worst))} <span class="muted">${esc(num(r.worstContribution))}</span>` : ''),
  },
  { head: 'worst_share', show: 'score', value: (r) => r.worstContribution, html: false },
  { head: 'code', show: 'code', value: (r) => r.lastCode },
];

export const MONTHLY_COLUMNS: Columns<MonthlyRow, MonthlyAssessment['totals']> = [
  rank(),
  stationId(),
  stationName(),
  { head: 'high_risk_days', show: 'int', value: (r) => r.highRiskDays, total: (t) => t.highRiskDays },
  ...days<MonthlyRow, MonthlyAssessment['totals']>(),
  { head: 'flagged', show: 'yes-no', value: (r) => r.flagged, total: (t) => t.flagged },
  { head: 'mean_score', show: 'score', value: (r) => r.meanScore, total: (t) => t.meanScore },
  { head: 'max_score', show: 'score', value: (r) => r.maxScore },
  { head: 'worst', show: 'indicator', value: (r) => r.worst },
  { head: 'items_opened', show: 'int', value: (r) => r.items.opened, total: (t) => t.items.opened },
  { head: 'items_closed', show: 'int', value: (r) => r.items.closed, total: (t) => t.items.closed },
  { head: 'items_overdue', show: 'int', value: (r) => r.items.overdue, total: (t) => t.items.overdue },
  { head: 'items_open', show: 'int', value: (r) => r.items.open, total: (t) => t.items.open },
];
