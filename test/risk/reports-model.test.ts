/**
 * The risk reports' pure parts: periods (ISO weeks, months, bad input with
 * its reason), the totals of the daily, weekly and monthly sheets and of a
 * station's report, the same totals in the HTML and the CSV (parsed back),
 * escaping of station names, and the SMS summary per responsible person.
 */
import { describe, expect, it } from 'vitest';
import type { RiskCode, RiskItem, RiskRanking, RiskRankingRow, StationRiskDay } from '../../contract/risk.ts';
import { parseCsv } from '../../server/customers/csv.ts';
import {
  buildDailySheet, buildMonthlyAssessment, buildStationReport, buildWeeklyBulletin, dailyPeriod, dailySummaries, isoWeekOf, monthlyPeriod,
  reportCsv, reportHtml, stationPeriod, weeklyPeriod, type Period, type ReportMeta,
} from '../../server/risk/reports/index.ts';

const TZ = '+08:00';
const THRESHOLDS = { yellow: 14, red: 30 };
const TODAY = '2026-12-07';

function period(p: ReturnType<typeof weeklyPeriod>): Period {
  if (!p.ok) throw new Error(p.reason);
  return p.period;
}
const meta = (p: Period, scope: string[] | null = null): ReportMeta => ({ period: { kind: p.kind, label: p.label, from: p.from, to: p.to }, generatedAt: Date.UTC(2026, 11, 7, 1, 0), timezone: TZ, thresholds: THRESHOLDS, scope });

const codeOf = (s: number | null): RiskCode | null => (s === null ? null : s >= 30 ? 'red' : s >= 14 ? 'yellow' : 'green');

function day(station: string, d: string, score: number | null, driving = 'ack-time-mean'): StationRiskDay {
  return {
    station, day: d, computedAt: Date.parse(`${d}T22:00:00Z`), run: 'daily', window: { from: 0, to: 1 }, score, coverage: 0.8, rawCode: codeOf(score), code: codeOf(score),
    driving: score ? driving : null, dimensions: { demand: score, handling: 0, speed: score },
    indicators: [
      { id: driving, dimension: 'speed', weight: 0.5, status: 'ok', value: 42, normalised: score === null ? null : score * 2, contribution: score },
      { id: 'repair-calls-per-1000', dimension: 'demand', weight: 0.5, status: 'ok', value: 0.2, normalised: 0, contribution: score === null ? null : 0 },
      { id: 'complaints', dimension: 'demand', weight: 0, status: 'not-available', value: null, normalised: null, contribution: null },
    ],
  };
}

const STATIONS = [
  { id: 'a', name: '城东供电所' },
  { id: 'b', name: '城西<供电所>&"x"' },
  { id: 'c', name: '开发区供电所' },
];

/** a: red all of November; b: yellow the last 9 days of November; c: green */
function november(): Map<string, StationRiskDay[]> {
  const m = new Map<string, StationRiskDay[]>();
  for (const s of STATIONS) m.set(s.id, []);
  for (let i = 1; i <= 30; i++) {
    const d = `2026-11-${String(i).padStart(2, '0')}`;
    m.get('a')!.push(day('a', d, 35 + (i % 3)));
    m.get('b')!.push(day('b', d, i > 21 ? 20 : 10, 'repair-calls-per-1000'));
    if (i !== 15) m.get('c')!.push(day('c', d, 5));
  }
  return m;
}

const row = (station: string, name: string, score: number | null, extra: Partial<RiskRankingRow> = {}): RiskRankingRow => ({
  station, name, day: '2026-11-30', code: codeOf(score), score, previousScore: score === null ? null : score - 1, trend: [], driving: score ? 'ack-time-mean' : null, highRiskDaysThisMonth: 0, flagged: false, openItems: 0, ...extra,
});

describe('periods', () => {
  it('ISO weeks: 2026-W01 starts on Monday 2025-12-29; 2026 has 53 weeks; week of a day', () => {
    expect(period(weeklyPeriod('2026-W01', TODAY))).toMatchObject({ from: '2025-12-29', to: '2026-01-04' });
    expect(period(weeklyPeriod('2026-W53', '2027-06-01'))).toMatchObject({ from: '2026-12-28', to: '2027-01-03' });
    expect(weeklyPeriod('2025-W53', TODAY)).toEqual({ ok: false, reason: 'week: 2025 has weeks 01–52, not 53' });
    expect(isoWeekOf('2026-12-06')).toBe('2026-W49');
    expect(isoWeekOf('2027-01-01')).toBe('2026-W53');
    expect(period(weeklyPeriod('2026-W49', TODAY)).days).toHaveLength(7);
  });
  it('months, days and station ranges; bad input and future periods with their reason', () => {
    expect(period(monthlyPeriod('2024-02', TODAY)).days).toHaveLength(29);
    expect(monthlyPeriod('2026-13', TODAY)).toEqual({ ok: false, reason: 'month: not a month YYYY-MM: 2026-13' });
    expect(dailyPeriod('2026-02-30', TODAY)).toEqual({ ok: false, reason: 'day: not a date YYYY-MM-DD: 2026-02-30' });
    expect(dailyPeriod('2026-12-08', TODAY)).toEqual({ ok: false, reason: "2026-12-08 has not begun (today is 2026-12-07 in the model's time zone)" });
    expect(period(stationPeriod(undefined, '2026-11-30', TODAY))).toMatchObject({ from: '2026-11-01', to: '2026-11-30' });
    expect(stationPeriod('2026-11-30', '2026-11-01', TODAY)).toEqual({ ok: false, reason: 'from (2026-11-30) is after to (2026-11-01)' });
    expect(stationPeriod('2025-01-01', '2026-11-01', TODAY)).toMatchObject({ ok: false, reason: expect.stringContaining('at most 366') });
  });
});

describe('center sheets', () => {
  it('daily: counts per code, changed and flagged stations, open items; HTML and CSV show the same totals', () => {
    const p = period(dailyPeriod('2026-11-30', TODAY));
    const ranking: RiskRanking = {
      day: '2026-11-30', computedAt: 1,
      rows: [row('a', STATIONS[0]!.name, 36, { highRiskDaysThisMonth: 30, flagged: true, openItems: 2 }), row('b', STATIONS[1]!.name, 20, { highRiskDaysThisMonth: 9, flagged: true, openItems: 1 }), row('c', STATIONS[2]!.name, null)],
    };
    const previous: RiskRanking = { day: '2026-11-29', computedAt: 1, rows: [row('a', '', 35), row('b', '', 10), row('c', '', 5)] };
    const s = buildDailySheet({ meta: meta(p), stations: STATIONS, ranking, previous: previous.rows });
    expect(s.totals).toEqual({ stations: 3, codes: { red: 1, yellow: 1, green: 0, none: 1 }, highRisk: 2, meanScore: 28, changed: 2, flagged: 2, openItems: 3 });
    expect(s.changed.map((c) => [c.station, c.from, c.to])).toEqual([['b', 'green', 'yellow'], ['c', 'green', null]]);
    expect(s.rows.map((r) => r.rank)).toEqual([1, 2, 3]);

    const html = reportHtml(s, 'zh');
    expect(html).toContain('城西&lt;供电所&gt;&amp;&quot;x&quot;');
    expect(html).not.toContain('<供电所>');
    expect(html).toMatch(/data-total="red">1</);
    expect(html).toMatch(/data-total="flagged">2</);
    expect(html).toMatch(/data-total="openItems">3</);
    expect(html).toContain('@page');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);

    const csv = reportCsv(s, 'zh');
    expect(csv.startsWith('\uFEFF')).toBe(true);
    const parsed = parseCsv(csv.slice(1));
    if (!parsed.ok) throw new Error(parsed.reason);
    const cells = parsed.records.map((r) => r.cells);
    expect(cells[0]![0]).toBe('排名');
    expect(cells[2]![2]).toBe(STATIONS[1]!.name);
    const kv = new Map(cells.filter((c) => c.length === 2).map((c) => [c[0], c[1]]));
    expect(kv.get('红码')).toBe('1');
    expect(kv.get('黄码')).toBe('1');
    expect(kv.get('超7天')).toBe('2');
    expect(kv.get('平均风险分')).toBe('28');
    const en = parseCsv(reportCsv(s, 'en').slice(1));
    expect(en.ok && en.records[0]!.cells[0]).toBe('Rank');
  });

  it('daily for a scoped user covers its stations only', () => {
    const p = period(dailyPeriod('2026-11-30', TODAY));
    const ranking: RiskRanking = { day: '2026-11-30', computedAt: 1, rows: [row('a', 'A', 36), row('b', 'B', 20), row('c', 'C', 3)] };
    const s = buildDailySheet({ meta: meta(p, ['c']), stations: [STATIONS[2]!], ranking, previous: null });
    expect(s.rows.map((r) => r.station)).toEqual(['c']);
    expect(s.totals.codes).toEqual({ red: 0, yellow: 0, green: 1, none: 0 });
  });

  it('weekly: days per code, mean score, worst indicator, ranking and change against the week before', () => {
    const p = period(weeklyPeriod('2026-W48', TODAY)); // 2026-11-23 … 29
    const w = buildWeeklyBulletin({ meta: meta(p), period: p, stations: STATIONS, histories: november() });
    expect(w.rows.map((r) => r.station)).toEqual(['a', 'b', 'c']);
    const b = w.rows[1]!;
    expect(b.days).toEqual({ red: 0, yellow: 7, green: 0, none: 0 });
    expect(b.meanScore).toBe(20);
    expect(b.worst).toBe('repair-calls-per-1000');
    expect(b.previous).toEqual({ rank: 2, meanScore: 11.43, highRiskDays: 1 });
    expect(b.change).toBe(8.57);
    expect(w.totals.days).toEqual({ red: 7, yellow: 7, green: 7, none: 0 });
    expect(w.totals.highRiskStations).toBe(2);
    const csv = parseCsv(reportCsv(w, 'en').slice(1));
    if (!csv.ok) throw new Error(csv.reason);
    const total = csv.records.find((r) => r.cells[2] === 'Total')!.cells;
    expect(total.slice(7, 11)).toEqual(['7', '7', '7', '0']);
    expect(reportHtml(w, 'en')).toMatch(/data-total="days-yellow">7</);
  });

  it('monthly: high-risk days, > 7 days flagged, items opened / closed / overdue', () => {
    const p = period(monthlyPeriod('2026-11', TODAY));
    const at = (d: string, h = 2) => Date.parse(`${d}T0${h}:00:00Z`);
    const item = (id: string, station: string, opened: string, closed: string | null, escalated: string | null): RiskItem => ({
      id, station, openedCode: 'red', code: 'red', day: opened, driving: null, state: closed ? 'closed' : 'open', openedAt: at(opened), dueAt: at(opened) + 86_400_000,
      escalated: escalated !== null, assignees: [{ id: 'p1', name: '张三' }], closedAt: closed ? at(closed) : null,
      events: [{ at: at(opened), by: 'system', kind: 'opened' }, ...(escalated ? [{ at: at(escalated), by: 'system', kind: 'escalated' as const }] : [])],
    });
    const items = [item('i1', 'a', '2026-11-02', '2026-11-10', '2026-11-03'), item('i2', 'a', '2026-11-20', null, null), item('i3', 'b', '2026-10-30', '2026-11-01', '2026-10-31'), item('i4', 'c', '2026-12-01', null, null)];
    const m = buildMonthlyAssessment({ meta: meta(p), period: p, stations: STATIONS, histories: november(), items });
    expect(m.rows.map((r) => [r.station, r.highRiskDays, r.flagged])).toEqual([['a', 30, true], ['b', 9, true], ['c', 0, false]]);
    expect(m.rows[2]!.days).toEqual({ red: 0, yellow: 0, green: 29, none: 1 });
    expect(m.rows[0]!.items).toEqual({ opened: 2, closed: 1, overdue: 1, open: 1 });
    expect(m.rows[1]!.items).toEqual({ opened: 0, closed: 1, overdue: 0, open: 0 });
    expect(m.totals).toMatchObject({ highRiskDays: 39, flagged: 2, items: { opened: 2, closed: 2, overdue: 1, open: 1 } });
    const csv = parseCsv(reportCsv(m, 'zh').slice(1));
    if (!csv.ok) throw new Error(csv.reason);
    const kv = new Map(csv.records.filter((r) => r.cells.length === 2).map((r) => [r.cells[0], r.cells[1]]));
    expect([kv.get('高风险天数'), kv.get('超7天'), kv.get('新开事项'), kv.get('已关闭事项'), kv.get('逾期事项')]).toEqual(['39', '2', '2', '2', '1']);
  });
});

describe('station report', () => {
  it('latest code and indicators, trend with gaps, items of the period with their follow-ups', () => {
    const p = period(stationPeriod('2026-11-10', '2026-11-20', TODAY));
    const history = november().get('c')!;
    const item: RiskItem = {
      id: 'i9', station: 'c', openedCode: 'yellow', code: 'green', day: '2026-11-12', driving: 'ack-time-mean', state: 'answered',
      openedAt: Date.parse('2026-11-12T00:00:00Z'), dueAt: Date.parse('2026-11-15T00:00:00Z'), escalated: false, assignees: [{ id: 'p', name: '李<四>' }], closedAt: null,
      events: [
        // the server's texts of its own steps are English log lines; the report says those steps from their kinds (read from the text of a line without one)
        { at: Date.parse('2026-11-12T00:00:00Z'), by: 'system', kind: 'opened', text: 'yellow (2026-11-12, ack-time-mean)' },
        { at: Date.parse('2026-11-12T00:00:00Z'), by: 'system', kind: 'assigned', text: 'responsible people of c (station_head)' },
        { at: Date.parse('2026-11-13T03:00:00Z'), by: 'li4', kind: 'follow-up', text: '已派人<巡视>' },
      ],
    };
    const r = buildStationReport({ meta: meta(p), period: p, station: STATIONS[2]!, history, items: [item] });
    expect(r.trend).toHaveLength(11);
    expect(r.trend.find((t) => t.day === '2026-11-15')!.score).toBeNull();
    expect(r.totals).toEqual({ computedDays: 10, days: { red: 0, yellow: 0, green: 10, none: 1 }, highRiskDays: 0, meanScore: 5, maxScore: 5, change: 0 });
    expect(r.latest).toMatchObject({ day: '2026-11-20', code: 'green', score: 5, driving: 'ack-time-mean' });
    expect(r.indicators.find((i) => i.driving)?.id).toBe('ack-time-mean');
    expect(r.indicators.find((i) => i.id === 'ack-time-mean')?.unit).toBe('min');
    expect(r.items.map((i) => i.id)).toEqual(['i9']);
    const html = reportHtml(r, 'zh');
    expect(html).toContain('已派人&lt;巡视&gt;');
    expect(html).toContain('李&lt;四&gt;');
    expect(html).toContain('告警平均确认时长');
    expect(html).toContain('<polyline');
    expect(html).not.toContain('responsible people');
    expect(html).not.toContain('ack-time-mean)');
    expect(html).toContain('黄码 · 2026-11-12 · 告警平均确认时长');
    const csv = parseCsv(reportCsv(r, 'en').slice(1));
    if (!csv.ok) throw new Error(csv.reason);
    expect(csv.records[0]!.cells[0]).toBe('Indicator');
    expect(csv.records.some((x) => x.cells[0] === '2026-11-15' && x.cells[1] === 'no data')).toBe(true);
  });
});

describe('every report', () => {
  it('a station without computed days says so; no report has a script or an external resource', () => {
    const p = period(stationPeriod('2026-11-01', '2026-11-07', TODAY));
    const empty = buildStationReport({ meta: meta(p), period: p, station: STATIONS[0]!, history: [], items: [] });
    expect(empty.latest).toBeNull();
    expect(empty.totals).toEqual({ computedDays: 0, days: { red: 0, yellow: 0, green: 0, none: 7 }, highRiskDays: 0, meanScore: null, maxScore: null, change: null });
    expect(reportHtml(empty, 'zh')).toContain('本周期没有计算结果。');
    expect(parseCsv(reportCsv(empty, 'en').slice(1)).ok).toBe(true);
    const w = period(weeklyPeriod('2026-W48', TODAY));
    const m = period(monthlyPeriod('2026-11', TODAY));
    const d = period(dailyPeriod('2026-11-30', TODAY));
    const reports = [
      empty,
      buildStationReport({ meta: meta(m), period: m, station: STATIONS[1]!, history: november().get('b')!, items: [] }),
      buildDailySheet({ meta: meta(d), stations: STATIONS, ranking: { day: d.from, computedAt: 1, rows: STATIONS.map((s) => row(s.id, s.name, 20)) }, previous: null }),
      buildWeeklyBulletin({ meta: meta(w), period: w, stations: STATIONS, histories: november() }),
      buildMonthlyAssessment({ meta: meta(m), period: m, stations: STATIONS, histories: november(), items: [] }),
    ];
    for (const r of reports)
      for (const lang of ['zh', 'en'] as const) {
        const html = reportHtml(r, lang);
        expect(html).not.toMatch(/<script|\ssrc=|\shref=|url\(|@import/i);
        expect(html).not.toContain('<供电所>');
        expect(html).not.toMatch(/\{\w+\}/); // every message variable filled
      }
  });
});

describe('SMS summaries', () => {
  const ranking: RiskRanking = { day: '2026-11-30', computedAt: 1, rows: [row('a', '城东供电所', 36, { flagged: true }), row('b', '城西供电所', 20), row('c', '开发区供电所', 5)] };
  const people = [
    { id: 'lead', name: '王主任', phone: '13800000001', stations: [] },
    { id: 'c-head', name: '赵所长', phone: '13800000002', stations: ['c'] },
    { id: 'a-head', name: '钱所长', phone: '13800000003', stations: ['a'] },
  ];
  it('one per person with a risk among their stations, with the link to the daily sheet or the station report', () => {
    const s = dailySummaries(ranking, people, { roles: ['leader'], baseUrl: 'https://gw.example/', when: 'risk', lang: 'zh', maxNames: 3 });
    expect(s.map((x) => x.person.id)).toEqual(['lead', 'a-head']);
    expect(s[0]!.site).toBe('全部3个供电所');
    expect(s[0]!.text).toBe('2026-11-30日风险监控；红码1个、黄码1个、绿码1个；红码：城东供电所；黄码：城西供电所；本月超7天：城东供电所；详见 https://gw.example/#/risk?day=2026-11-30');
    expect(s[1]!.link).toBe('https://gw.example/#/risk/a?day=2026-11-30');
    const always = dailySummaries(ranking, people, { roles: ['leader'], baseUrl: null, when: 'always', lang: 'en', maxNames: 1 });
    expect(always).toHaveLength(3);
    expect(always[1]!.text).toBe('Risk monitoring 2026-11-30; red 0, yellow 0, green 1');
  });
});
