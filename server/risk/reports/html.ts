/**
 * The reports as printable HTML (docs/risk.md, Reports): one function per
 * report, each rendering the report value built in station-report.ts or
 * sheets.ts — the totals shown are that value's, never recomputed here.
 * Every value is escaped (station names come from the topology file).
 */
import { CODE_COLOURS, barChart, esc, scoreLine, type BarRow } from './svg.ts';
import { card, chip, delta, headRow, num, page, signed, timeIn, yesNo } from './html-page.ts';
import { CODE_WORDS, DIMENSION_WORDS, EVENT_WORDS, ITEM_STATE_WORDS, RUN_WORDS, STATUS_WORDS, indicatorName, msg, unitWord, type ReportLang } from './messages.ts';
import type { CenterSheet, DailySheet, MonthlyAssessment, WeeklyBulletin } from './sheets.ts';
import { DAILY_COLUMNS, MONTHLY_COLUMNS, WEEKLY_COLUMNS, isNumeric, type SheetColumn } from './columns.ts';
import type { RiskCode } from '../../../contract/risk.ts';
import type { StationReport } from './station-report.ts';
import { eventText } from './step-words.ts';
import { FLAG_DAYS } from './sheets.ts';
import type { CodeCounts } from './totals.ts';

/** stations drawn in a sheet's chart at most (the worst); the table lists all */
export const CHART_ROWS = 30;
/** a sheet with more rows starts its full ranking on a new page */
const BREAK_ROWS = 20;

const td = (v: string, n = false) => `<td${n ? ' class="n"' : ''}>${v}</td>`;
const tdName = (v: string) => `<td class="name">${v}</td>`;
const tdInd = (v: string) => `<td class="ind">${v}</td>`;

/** A center sheet's ranking table (the columns of columns.ts that are printed): head, a row per station, the total row. */
function sheetTable<R extends { station: string }, T>(lang: ReportLang, columns: readonly SheetColumn<R, T>[], rows: readonly R[], totals: T, cls = ''): string {
  const cols = columns.filter((c) => c.html !== false);
  const cell = (c: SheetColumn<R, T>, r: R): string => {
    const v = c.value(r);
    const inner = c.htmlCell
      ? c.htmlCell(r, lang)
      : c.show === 'score' ? esc(num(v as number | null))
      : c.show === 'delta' ? delta((v ?? null) as number | null)
      : c.show === 'code' ? chip(lang, (v ?? null) as RiskCode | null)
      : c.show === 'yes-no' ? yesNo(lang, v === true)
      : c.show === 'indicator' ? esc(indicatorName(lang, (v ?? null) as string | null))
      : esc(v ?? '');
    return c.show === 'name' ? tdName(inner) : c.show === 'indicator' ? tdInd(inner) : td(inner, isNumeric(c));
  };
  const total = (c: SheetColumn<R, T>): string => {
    if (c.printedTotal) return td(esc(c.printedTotal(totals, lang)));
    const v = c.total?.(totals, lang);
    if (typeof v !== 'number') return td(esc(v ?? ''));
    return td(c.show === 'score' ? esc(num(v)) : c.show === 'delta' ? delta(v) : String(v), true);
  };
  const head = headRow(cols.map((c) => (isNumeric(c) ? '#' : '') + msg(lang, c.head)));
  const body = rows.map((r) => `<tr data-station="${esc(r.station)}">${cols.map((c) => cell(c, r)).join('')}</tr>`).join('');
  return `<table${cls ? ` class="${cls}"` : ''} data-table="ranking"><thead>${head}</thead>
<tbody>${body}</tbody>
<tfoot><tr>${cols.map(total).join('')}</tr></tfoot></table>`;
}

function codeCards(lang: ReportLang, c: CodeCounts, prefix: string): string {
  return (['red', 'yellow', 'green', 'none'] as const).map((k) => card(CODE_WORDS[lang][k], String(c[k]), k, `${prefix}${k}`)).join('');
}

function thresholdLines(lang: ReportLang, t: { yellow: number; red: number }) {
  return [
    { value: t.yellow, colour: CODE_COLOURS.yellow, label: `${CODE_WORDS[lang].yellow} ${t.yellow}` },
    { value: t.red, colour: CODE_COLOURS.red, label: `${CODE_WORDS[lang].red} ${t.red}` },
  ];
}

function chartBlock(lang: ReportLang, title: string, total: number, svg: string): string {
  const top = total > CHART_ROWS ? msg(lang, 'chart_top', { n: CHART_ROWS }) : '';
  return `<section class="chart"><h2>${esc(title + top)}</h2>${svg}</section>`;
}

function nameList(lang: ReportLang, names: string[]): string {
  return names.length ? `<ul class="plain">${names.join('')}</ul>` : `<p class="muted">${esc(msg(lang, 'none_listed'))}</p>`;
}

export function dailyHtml(s: DailySheet, lang: ReportLang): string {
  const t = s.totals;
  const bars: BarRow[] = s.rows.slice(0, CHART_ROWS).map((r) => ({ label: r.name, value: r.score, code: r.code }));
  const body = `
<section class="cards">${card(msg(lang, 'stations'), String(t.stations), '', 'stations')}${codeCards(lang, t.codes, '')}${card(msg(lang, 'mean_score'), num(t.meanScore), '', 'meanScore')}${card(msg(lang, 'flagged'), String(t.flagged), t.flagged ? 'red' : '', 'flagged')}${card(msg(lang, 'open_items'), String(t.openItems), '', 'openItems')}</section>
<section><h2>${esc(msg(lang, 'changed_title'))}</h2>${nameList(lang, s.changed.map((c) => `<li>${esc(c.name)}${esc(msg(lang, 'colon'))}${chip(lang, c.from)} → ${chip(lang, c.to)}</li>`))}</section>
<section><h2>${esc(msg(lang, 'flagged_title'))}</h2>${nameList(lang, s.flagged.map((f) => `<li>${esc(f.name)}${esc(msg(lang, 'colon'))}<span class="flag">${f.highRiskDaysThisMonth}</span></li>`))}</section>
${chartBlock(lang, msg(lang, 'chart_scores'), s.rows.length, barChart(bars, { max: Math.max(s.meta.thresholds.red + 10, 40), lines: thresholdLines(lang, s.meta.thresholds), title: msg(lang, 'chart_scores') }))}
<section${s.rows.length > BREAK_ROWS ? ' class="page-break"' : ''}><h2>${esc(msg(lang, 'ranking'))}</h2>
${sheetTable(lang, DAILY_COLUMNS, s.rows, t)}</section>`;
  return page(lang, { kind: 'daily', title: msg(lang, 'title_daily'), meta: s.meta, body });
}

export function weeklyHtml(s: WeeklyBulletin, lang: ReportLang): string {
  const t = s.totals;
  // a bar takes the colour its mean score would have as a day's score
  const th = s.meta.thresholds;
  const bars: BarRow[] = s.rows.slice(0, CHART_ROWS).map((r) => ({ label: r.name, value: r.meanScore, code: r.meanScore === null ? null : r.meanScore >= th.red ? 'red' : r.meanScore >= th.yellow ? 'yellow' : 'green' }));
  const body = `
<section class="cards">${card(msg(lang, 'stations'), String(t.stations), '', 'stations')}${card(msg(lang, 'high_risk_stations'), String(t.highRiskStations), t.highRiskStations ? 'yellow' : '', 'highRiskStations')}${card(msg(lang, 'mean_score'), num(t.meanScore), '', 'meanScore')}${card(msg(lang, 'week_change'), signed(t.change), '', 'change')}</section>
<p class="muted">${esc(msg(lang, 'station_days'))}</p>
<section class="cards">${codeCards(lang, t.days, 'days-')}</section>
${chartBlock(lang, msg(lang, 'chart_mean_scores'), s.rows.length, barChart(bars, { max: Math.max(s.meta.thresholds.red + 10, 40), lines: thresholdLines(lang, s.meta.thresholds), title: msg(lang, 'chart_mean_scores') }))}
<section${s.rows.length > BREAK_ROWS ? ' class="page-break"' : ''}><h2>${esc(msg(lang, 'ranking'))}</h2>
${sheetTable(lang, WEEKLY_COLUMNS, s.rows, t, 'wide')}</section>`;
  return page(lang, { kind: 'weekly', title: msg(lang, 'title_weekly'), meta: s.meta, body });
}

export function monthlyHtml(s: MonthlyAssessment, lang: ReportLang): string {
  const t = s.totals;
  const bars: BarRow[] = s.rows.slice(0, CHART_ROWS).map((r) => ({ label: r.name, value: r.highRiskDays, code: r.flagged ? 'red' : r.highRiskDays > 0 ? 'yellow' : 'green' }));
  const body = `
<section class="cards">${card(msg(lang, 'stations'), String(t.stations), '', 'stations')}${card(msg(lang, 'high_risk_days'), String(t.highRiskDays), t.highRiskDays ? 'yellow' : '', 'highRiskDays')}${card(msg(lang, 'flagged'), String(t.flagged), t.flagged ? 'red' : '', 'flagged')}${card(msg(lang, 'mean_score'), num(t.meanScore), '', 'meanScore')}</section>
<section class="cards">${card(msg(lang, 'items_opened'), String(t.items.opened), '', 'items-opened')}${card(msg(lang, 'items_closed'), String(t.items.closed), 'green', 'items-closed')}${card(msg(lang, 'items_overdue'), String(t.items.overdue), t.items.overdue ? 'red' : '', 'items-overdue')}${card(msg(lang, 'items_open'), String(t.items.open), '', 'items-open')}</section>
<section><h2>${esc(msg(lang, 'flagged_title'))}</h2>${nameList(lang, s.rows.filter((r) => r.flagged).map((r) => `<li>${esc(r.name)}${esc(msg(lang, 'colon'))}<span class="flag">${r.highRiskDays}</span></li>`))}</section>
${chartBlock(lang, msg(lang, 'chart_high_risk_days'), s.rows.length, barChart(bars, { max: Math.max(FLAG_DAYS + 3, 10), lines: [{ value: FLAG_DAYS, colour: CODE_COLOURS.red, label: '7' }], title: msg(lang, 'chart_high_risk_days') }))}
<section${s.rows.length > BREAK_ROWS ? ' class="page-break"' : ''}><h2>${esc(msg(lang, 'ranking'))}</h2>
${sheetTable(lang, MONTHLY_COLUMNS, s.rows, t, 'wide')}</section>`;
  return page(lang, { kind: 'monthly', title: msg(lang, 'title_monthly'), meta: s.meta, body });
}

export function stationHtml(r: StationReport, lang: ReportLang): string {
  const tz = r.meta.timezone;
  const l = r.latest;
  const t = r.totals;
  const summary = l
    ? `<section class="cards big"><div class="card"><div class="k">${esc(msg(lang, 'code'))} (${esc(l.day)})</div><div class="v" data-total="code">${chip(lang, l.code)}</div></div>${card(msg(lang, 'score'), num(l.score), l.code ?? 'none', 'score')}${card(msg(lang, 'coverage'), `${num(l.coverage * 100, 0)} %`, '', 'coverage')}${card(msg(lang, 'driving'), indicatorName(lang, l.driving) || '–', '', 'driving')}</section>
<section class="cards">${codeCards(lang, t.days, 'days-')}${card(msg(lang, 'mean_score'), num(t.meanScore), '', 'meanScore')}${card(msg(lang, 'max_score'), num(t.maxScore), '', 'maxScore')}${card(msg(lang, 'change'), signed(t.change), '', 'change')}</section>
<p class="muted">${esc(msg(lang, 'dimensions'))}${esc(msg(lang, 'colon'))}${(['demand', 'handling', 'speed'] as const).map((d) => `${esc(DIMENSION_WORDS[lang][d])} ${esc(num(l.dimensions[d]))}`).join(' · ')} — ${esc(msg(lang, 'run'))}${esc(msg(lang, 'colon'))}${esc(RUN_WORDS[lang][l.run] ?? l.run)}, ${esc(timeIn(l.computedAt, tz))}</p>`
    : `<p class="muted">${esc(msg(lang, 'no_days'))}</p>`;
  const indicators = r.indicators
    .map((i) => `<tr${i.driving ? ' class="driving"' : ''} data-indicator="${esc(i.id)}">${td(esc(indicatorName(lang, i.id)))}${td(esc(DIMENSION_WORDS[lang][i.dimension] ?? i.dimension))}${td(esc(num(i.value, 3)), true)}${td(esc(unitWord(lang, i.unit)))}${td(esc(num(i.weight, 3)), true)}${td(esc(num(i.normalised)), true)}${td(esc(num(i.contribution)), true)}${td(esc(STATUS_WORDS[lang][i.status] ?? i.status))}</tr>`)
    .join('');
  const items = r.items.length
    ? r.items
        .map((it) => {
          const events = it.events
            .map((e) => {
              const text = eventText(lang, e, tz, (id) => (id === r.station.id ? r.station.name : id));
              return `<li>${esc(timeIn(e.at, tz))} ${esc(EVENT_WORDS[lang][e.kind] ?? e.kind)} · ${esc(e.by)}${text ? `${esc(msg(lang, 'colon'))}${esc(text)}` : ''}</li>`;
            })
            .join('');
          const head = `${chip(lang, it.openedCode)} <b>${esc(ITEM_STATE_WORDS[lang][it.state] ?? it.state)}</b>${it.escalated ? ` <span class="flag">${esc(msg(lang, 'escalated'))}</span>` : ''} — ${esc(msg(lang, 'opened'))} ${esc(timeIn(it.openedAt, tz))}${esc(msg(lang, 'comma'))}${esc(msg(lang, 'due'))} ${esc(timeIn(it.dueAt, tz))}${it.closedAt !== null ? `${esc(msg(lang, 'comma'))}${esc(msg(lang, 'closed'))} ${esc(timeIn(it.closedAt, tz))}` : ''}${esc(msg(lang, 'semicolon'))}${esc(msg(lang, 'driving'))}${esc(msg(lang, 'colon'))}${esc(indicatorName(lang, it.driving) || '–')}${esc(msg(lang, 'semicolon'))}${esc(msg(lang, 'assignees'))}${esc(msg(lang, 'colon'))}${esc(it.assignees.join(msg(lang, 'list_sep')) || '–')}`;
          return `<li data-item="${esc(it.id)}">${head}<ul class="events">${events}</ul></li>`;
        })
        .join('')
    : '';
  const body = `${summary}
<section class="chart"><h2>${esc(msg(lang, 'chart_trend'))}</h2>${scoreLine(r.trend, { thresholds: r.meta.thresholds, title: msg(lang, 'chart_trend') })}</section>
<section><h2>${esc(msg(lang, 'indicators'))}${l ? ` (${esc(l.day)})` : ''}</h2>
<table data-table="indicators"><thead>${headRow([msg(lang, 'indicator'), msg(lang, 'dimension'), '#' + msg(lang, 'value'), msg(lang, 'unit'), '#' + msg(lang, 'weight'), '#' + msg(lang, 'normalised'), '#' + msg(lang, 'contribution'), msg(lang, 'status')])}</thead><tbody>${indicators}</tbody>
<tfoot><tr>${td(esc(msg(lang, 'total')))}${td('')}${td('')}${td('')}${td('')}${td('')}${td(esc(num(l?.score ?? null)), true)}${td('')}</tr></tfoot></table></section>
<section><h2>${esc(msg(lang, 'items'))}</h2>${items ? `<ul class="plain">${items}</ul>` : `<p class="muted">${esc(msg(lang, 'no_items'))}</p>`}</section>`;
  return page(lang, { kind: 'station', title: msg(lang, 'title_station'), subtitle: `${r.station.name} (${r.station.id})`, meta: r.meta, body });
}

export function reportHtml(r: StationReport | CenterSheet, lang: ReportLang): string {
  switch (r.kind) {
    case 'station':
      return stationHtml(r, lang);
    case 'daily':
      return dailyHtml(r, lang);
    case 'weekly':
      return weeklyHtml(r, lang);
    case 'monthly':
      return monthlyHtml(r, lang);
    default: {
      const never: never = r;
      return never;
    }
  }
}
