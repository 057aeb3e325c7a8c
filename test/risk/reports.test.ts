/**
 * Risk reports against the real server (embedded broker, DuckDB, the shipped
 * model) with a month of history written for three stations (东区 red from
 * the 5th, so flagged; 西区 yellow the last five days; 北区 green): the
 * daily sheet's figures equal the ranking REST answer's, in JSON, HTML and
 * CSV (parsed back); every report rendered in real Chromium (its style in
 * force under the report's CSP, a screenshot of the first page of each in
 * test-artifacts/risk-report-*.png) and printed to PDF by the server; a station's report with
 * its item and follow-up; scopes; bad periods; the SMS summary with its link
 * at the test gateway after a daily run; no Chromium → 503 while HTML and
 * CSV still answer.
 */
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RiskCode, RiskRanking, StationRiskDay } from '../../contract/risk.ts';
import { parseCsv } from '../../server/customers/csv.ts';
import { DuckDbRiskHistory } from '../../server/risk/index.ts';
import type { DuckDbStore } from '../../server/store/duckdb.ts';
import { launchChromium, screenshotPath } from '../support/browser.ts';
import { login, startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';
import { TestSmsGateway } from '../support/sms-gateway.ts';
import { until } from '../support/until.ts';

const SHIPPED = fileURLToPath(new URL('../../config/risk.yaml', import.meta.url));
const SECRET = 'risk-reports-gateway-secret-0123456789';
const TOPOLOGY = `
sites:
  - { id: east, name: 东区供电所 }
  - { id: west, name: "西区<供电所>&" }
  - { id: north, name: 北区供电所 }
`;
const PEOPLE = [
  { id: 'boss', name: '中心主任', phone: '13800000010', roles: ['leader'] },
  { id: 'east-lead', name: '东区分管领导', phone: '13800000011', roles: ['leader'], stations: ['east'] },
  { id: 'clerk', name: '统计员', phone: '13800000012', roles: ['dispatcher'] },
];

const DAY_MS = 86_400_000;
const local = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
const TODAY = local(Date.now());
const YESTERDAY = local(Date.now() - DAY_MS);
/** the calendar month before this one: its days, and the week before its first */
const monthStart = new Date(Date.UTC(Number(TODAY.slice(0, 4)), Number(TODAY.slice(5, 7)) - 2, 1));
const MONTH = monthStart.toISOString().slice(0, 7);
const MONTH_END = new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() + 1, 0)).toISOString().slice(0, 10);
const days: string[] = [];
for (let t = monthStart.getTime() - 7 * DAY_MS; new Date(t).toISOString().slice(0, 10) <= MONTH_END; t += DAY_MS) days.push(new Date(t).toISOString().slice(0, 10));

const codeOf = (s: number): RiskCode => (s >= 30 ? 'red' : s >= 14 ? 'yellow' : 'green');

function riskDay(station: string, day: string, score: number, driving: string): StationRiskDay {
  const at = Date.now() + DAY_MS; // later than any computation the server makes itself: these days stay
  return {
    station, day, computedAt: at, run: 'daily', window: { from: Date.parse(`${day}T00:00:00+08:00`) - 29 * DAY_MS, to: Date.parse(`${day}T00:00:00+08:00`) + DAY_MS },
    score, coverage: 0.9, rawCode: codeOf(score), code: codeOf(score), driving: score > 0 ? driving : null, dimensions: { demand: score, handling: 0, speed: 0 },
    indicators: [
      { id: 'repair-calls-per-1000', dimension: 'demand', weight: 0.14, status: 'ok', value: 2.5, normalised: 80, contribution: driving === 'repair-calls-per-1000' ? score : 0 },
      { id: 'ack-time-mean', dimension: 'speed', weight: 0.14, status: 'ok', value: 12, normalised: 28, contribution: driving === 'ack-time-mean' ? score : 0 },
      { id: 'complaints', dimension: 'demand', weight: 0, status: 'not-available', value: null, normalised: null, contribution: null },
    ],
  };
}

function history(): StationRiskDay[] {
  const out: StationRiskDay[] = [];
  days.forEach((d) => {
    const n = Number(d.slice(8, 10));
    const inMonth = d.startsWith(MONTH);
    out.push(riskDay('east', d, inMonth && n >= 5 ? 32 + (n % 4) : 8, 'repair-calls-per-1000'));
    out.push(riskDay('west', d, d > days.at(-6)! ? 18 : 9, 'ack-time-mean'));
    out.push(riskDay('north', d, 3, 'ack-time-mean'));
  });
  return out;
}

let gateway: TestSmsGateway;
let ts: TestServer;
let browser: Browser;
let scoped = '';

async function get(url: string, cookie?: string): Promise<Response> {
  return cookie ? fetch(ts.server.url + url, { headers: { cookie } }) : ts.fetch(url, { role: 'viewer' });
}
async function json(url: string, cookie?: string): Promise<{ status: number; body: any }> {
  const r = await get(url, cookie);
  return { status: r.status, body: await r.json() };
}

beforeAll(async () => {
  gateway = new TestSmsGateway({ secret: SECRET, delayMs: [1, 5], receiptDelayMs: [20, 50], failRate: 0 });
  await gateway.start();
  [ts, browser] = await Promise.all([
    startTestServer({
      topologyYaml: TOPOLOGY,
      extra: {
        notify: { gateway: { url: gateway.url, account: 'gw', secret: SECRET }, retryBaseMs: 100, retryMaxMs: 500 },
        risk: { file: SHIPPED, dashboardUrl: 'https://gw.example/', reports: { chromium: '/usr/bin/chromium', smsWhen: 'always' } },
      },
    }),
    launchChromium(),
  ]);
  gateway.receiptUrl = `${ts.server.url}/api/notify/receipts`;
  const put = await ts.fetch('/api/contacts', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ people: PEOPLE }) });
  expect(put.status).toBe(200);
  await ts.server.auth.putUser('east-viewer', TEST_PASSWORD, 'viewer', ['east']);
  scoped = await login(ts.server.url, 'east-viewer', TEST_PASSWORD);
  const h = new DuckDbRiskHistory(() => (ts.server.store as DuckDbStore).connect());
  await h.start();
  await h.put(history().map((day) => ({ day, state: { code: day.code!, pending: null } })));
  await h.stop();
  // an item of 东区 with a follow-up (opened now: it shows in the station report up to today)
  const [item] = await ts.server.riskItems.onComputed([{ ...riskDay('east', YESTERDAY, 33, 'repair-calls-per-1000'), computedAt: Date.now(), run: 'on-demand' }]);
  expect(item).toBeDefined();
  const f = await ts.fetch(`/api/risk/items/${item!.id}/follow-up`, { method: 'POST', role: 'operator', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: '已派员<核查>报修集中的台区' }) });
  expect(f.status).toBe(200);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await ts?.close();
  await gateway?.stop();
});

describe('risk reports against the real server', () => {
  it('the daily sheet has the ranking REST figures, in JSON, HTML and CSV', async () => {
    const rk = (await json(`/api/risk/ranking?day=${MONTH_END}`)).body as RiskRanking;
    const sheet = (await json(`/api/risk/reports/daily?day=${MONTH_END}&format=json`)).body;
    expect(sheet.rows.map((r: { station: string; code: string; score: number; flagged: boolean; highRiskDaysThisMonth: number; openItems: number }) => [r.station, r.code, r.score, r.flagged, r.highRiskDaysThisMonth, r.openItems]))
      .toEqual(rk.rows.map((r) => [r.station, r.code, r.score, r.flagged, r.highRiskDaysThisMonth, r.openItems]));
    const count = (c: RiskCode) => rk.rows.filter((r) => r.code === c).length;
    expect(sheet.totals.codes).toEqual({ red: count('red'), yellow: count('yellow'), green: count('green'), none: 0 });
    expect(sheet.totals.codes).toEqual({ red: 1, yellow: 1, green: 1, none: 0 });
    expect(sheet.totals.flagged).toBe(rk.rows.filter((r) => r.flagged).length);
    expect(sheet.totals.openItems).toBe(rk.rows.reduce((s, r) => s + r.openItems, 0));
    expect(sheet.rows.find((r: { station: string }) => r.station === 'east')).toMatchObject({ flagged: true, code: 'red' });
    // the day 西区 turned yellow: the one change against the day before
    const turned = (await json(`/api/risk/reports/daily?day=${days.at(-5)}&format=json`)).body;
    expect(turned.changed).toEqual([{ station: 'west', name: '西区<供电所>&', from: 'green', to: 'yellow' }]);

    const html = await (await get(`/api/risk/reports/daily?day=${MONTH_END}`)).text();
    for (const [k, v] of Object.entries({ red: 1, yellow: 1, green: 1, flagged: sheet.totals.flagged, openItems: sheet.totals.openItems }))
      expect(html).toContain(`data-total="${k}">${v}<`);
    expect(html).toContain('西区&lt;供电所&gt;&amp;');

    const res = await get(`/api/risk/reports/daily?day=${MONTH_END}&format=csv&lang=en`);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const csv = parseCsv(bytes.subarray(3).toString('utf8'));
    if (!csv.ok) throw new Error(csv.reason);
    expect(csv.records[0]!.cells.slice(0, 4)).toEqual(['Rank', 'Id', 'Station', 'Code']);
    expect(csv.records.slice(1, 4).map((r) => [r.cells[1], Number(r.cells[4])])).toEqual(rk.rows.map((r) => [r.station, r.score]));
    const kv = new Map(csv.records.filter((r) => r.cells.length === 2).map((r) => [r.cells[0], r.cells[1]]));
    expect([kv.get('red'), kv.get('yellow'), kv.get('green'), kv.get('> 7 days')]).toEqual(['1', '1', '1', String(sheet.totals.flagged)]);
  });

  it('every report renders in Chromium with its style under the CSP, and the server prints them to PDF', async () => {
    const cookie = (await ts.cookie('viewer')).split('=');
    const context = await browser.newContext({ viewport: { width: 900, height: 1200 } });
    await context.addCookies([{ name: cookie[0]!, value: cookie.slice(1).join('='), url: ts.server.url }]);
    const page = await context.newPage();
    const refused: string[] = [];
    page.on('console', (m) => m.type() === 'error' && refused.push(m.text()));
    const week = (await json(`/api/risk/reports/weekly?format=json&week=${isoWeek(MONTH_END)}`)).body;
    expect(week.rows[0].station).toBe('east');
    const reports = {
      daily: `/api/risk/reports/daily?day=${MONTH_END}`,
      weekly: `/api/risk/reports/weekly?week=${isoWeek(MONTH_END)}`,
      monthly: `/api/risk/reports/monthly?month=${MONTH}`,
      station: `/api/risk/reports/station/east?from=${MONTH}-01`,
      'weekly-en': `/api/risk/reports/weekly?week=${isoWeek(MONTH_END)}&lang=en`,
    };
    for (const [name, url] of Object.entries(reports)) {
      const r = await page.goto(ts.server.url + url);
      expect(r?.status()).toBe(200);
      expect(await page.locator('body').getAttribute('data-kind')).toBe(name.replace('-en', ''));
      // the inline style is in force: the title's colour and the A4 sheet width come from it
      expect(await page.locator('h1').evaluate((e) => getComputedStyle(e).color)).toBe('rgb(29, 78, 137)');
      expect(await page.locator('svg').count()).toBeGreaterThan(0);
      await page.screenshot({ path: await screenshotPath(`risk-report-${name}`), clip: { x: 0, y: 0, width: 900, height: 1200 } });
      // the server prints two of them (test/risk/reports-pdf.test.ts prints a long sheet over several pages)
      if (name !== 'daily' && name !== 'station') continue;
      const pdf = Buffer.from(await (await get(`${url}&format=pdf`)).arrayBuffer());
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      expect(pdf.toString('latin1').match(/\/Type\s*\/Page\b/g)?.length ?? 0).toBeGreaterThanOrEqual(1);
    }
    expect(refused.filter((t) => /Content Security Policy/i.test(t))).toEqual([]);
    await context.close();
  });

  it('the monthly assessment flags 东区 and the station report carries its item and follow-up', async () => {
    const m = (await json(`/api/risk/reports/monthly?month=${MONTH}&format=json`)).body;
    const eastDays = Number(MONTH_END.slice(8, 10)) - 4;
    expect(m.rows.map((r: { station: string; highRiskDays: number; flagged: boolean }) => [r.station, r.highRiskDays, r.flagged])).toEqual([['east', eastDays, true], ['west', 5, false], ['north', 0, false]]);
    expect(m.totals).toMatchObject({ stations: 3, highRiskDays: eastDays + 5, flagged: 1 });
    // the month's last ranking row agrees
    const rk = (await json(`/api/risk/ranking?day=${MONTH_END}`)).body as RiskRanking;
    expect(rk.rows.find((r) => r.station === 'east')!.highRiskDaysThisMonth).toBe(eastDays);
    const st = (await json(`/api/risk/reports/station/east?from=${MONTH}-01&format=json`)).body;
    expect(st.station).toEqual({ id: 'east', name: '东区供电所' });
    expect(st.items).toHaveLength(1);
    expect(st.items[0].events.map((e: { kind: string }) => e.kind)).toContain('follow-up');
    const html = await (await get(`/api/risk/reports/station/east?from=${MONTH}-01`)).text();
    expect(html).toContain('已派员&lt;核查&gt;报修集中的台区');
    const cur = (await json(`/api/risk/reports/monthly?month=${TODAY.slice(0, 7)}&format=json`)).body;
    expect(cur.totals.items.opened).toBe(1);
  });

  it('a scoped user: center sheets cover its station only, another station is 404', async () => {
    const d = await json(`/api/risk/reports/daily?day=${MONTH_END}&format=json`, scoped);
    expect(d.body.rows.map((r: { station: string }) => r.station)).toEqual(['east']);
    expect(d.body.meta.scope).toEqual(['east']);
    expect((await json(`/api/risk/reports/weekly?week=${isoWeek(MONTH_END)}&format=json`, scoped)).body.rows).toHaveLength(1);
    expect((await json('/api/risk/reports/station/west', scoped)).status).toBe(404);
    expect((await json('/api/risk/reports/station/nope')).status).toBe(404);
  });

  it('a day names the week or month holding it, or the last day of a station report (the dashboard links by day)', async () => {
    expect((await json(`/api/risk/reports/weekly?day=${MONTH_END}&format=json`)).body.meta.period.label).toBe(isoWeek(MONTH_END));
    expect((await json(`/api/risk/reports/monthly?day=${MONTH_END}&format=json`)).body.meta.period.label).toBe(MONTH);
    expect((await json(`/api/risk/reports/station/east?day=${MONTH_END}&format=json`)).body.meta.period).toMatchObject({ to: MONTH_END });
    // no period named: the latest computed day's, as the ranking answers without a day
    const latest = (await json('/api/risk/ranking')).body.day as string;
    expect((await json('/api/risk/reports/daily?format=json')).body.meta.period.label).toBe(latest);
    expect((await json('/api/risk/reports/monthly?format=json')).body.meta.period.label).toBe(latest.slice(0, 7));
  });

  it('bad periods are 400 with the reason; unknown query keys refused', async () => {
    const bad = {
      '/api/risk/reports/daily?day=2026-02-30': 'day: not a date YYYY-MM-DD: 2026-02-30',
      '/api/risk/reports/weekly?week=2025-W53': 'week: 2025 has weeks 01–52, not 53',
      '/api/risk/reports/monthly?month=2026-13': 'month: not a month YYYY-MM: 2026-13',
      '/api/risk/reports/station/east?from=2026-03-02&to=2026-03-01': 'from (2026-03-02) is after to (2026-03-01)',
      '/api/risk/reports/daily?day=2999-01-01': `2999-01-01 has not begun (today is ${TODAY} in the model's time zone)`,
    };
    for (const [url, reason] of Object.entries(bad)) expect(await json(url)).toEqual({ status: 400, body: { error: { code: 'GW_ERR_HTTP_BAD_REQUEST', message: reason } } });
    expect((await json(`/api/risk/reports/weekly?week=2026-W01&day=${MONTH_END}`)).body.error.message).toBe('give week or day, not both');
    expect((await json('/api/risk/reports/monthly?day=2026-13-01')).body.error.message).toBe('day: not a date YYYY-MM-DD: 2026-13-01');
    expect((await json('/api/risk/reports/daily?format=docx')).status).toBe(400);
    expect((await json('/api/risk/reports/daily?days=1')).status).toBe(400);
    expect((await fetch(`${ts.server.url}/api/risk/reports/daily`)).status).toBe(401);
  });

  it('after a daily run each leader gets the SMS summary of their stations with the link to the report', async () => {
    await ts.server.risk!.computeDay(YESTERDAY, 'daily');
    await until(() => (['13800000010', '13800000011'].every((p) => gateway.messages().some((m) => m.phone === p && m.text.includes(YESTERDAY))) ? [] : ['no summaries yet']), 20_000, 'daily summaries');
    const boss = gateway.messages().find((m) => m.phone === '13800000010' && m.text.includes(YESTERDAY))!;
    expect(boss.text).toMatch(/^【服务风险】全部3个供电所：/);
    expect(boss.text).toContain(`https://gw.example/#/risk?day=${YESTERDAY}`);
    const lead = gateway.messages().find((m) => m.phone === '13800000011' && m.text.includes(YESTERDAY))!;
    expect(lead.text).toContain(`https://gw.example/#/risk/east?day=${YESTERDAY}`);
    expect(gateway.messages().some((m) => m.phone === '13800000012')).toBe(false);
    // the month's last day, sent again for it: names the red and the flagged station; a repeat sends nothing twice
    expect(await ts.server.riskReports!.sendSummaries(MONTH_END)).toMatchObject({ accepted: 2 });
    expect(await ts.server.riskReports!.sendSummaries(MONTH_END)).toMatchObject({ accepted: 0, duplicates: 2 });
    await until(() => (gateway.messages().some((m) => m.phone === '13800000010' && m.text.includes(MONTH_END)) ? [] : ['no month-end summary']), 20_000, 'month-end summary');
    const end = gateway.messages().find((m) => m.phone === '13800000010' && m.text.includes(MONTH_END))!;
    expect(end.text).toContain('红码：东区供电所');
    expect(end.text).toContain('本月超7天：东区供电所');
  });

  it('without Chromium a PDF is 503 GW_ERR_REPORT_PDF_UNAVAILABLE while HTML and CSV answer', async () => {
    const other = await startTestServer({ topologyYaml: TOPOLOGY, extra: { risk: { file: SHIPPED, reports: { chromium: 'no-such-chromium-binary' } } } });
    try {
      const pdf = await other.fetch(`/api/risk/reports/daily?day=${YESTERDAY}&format=pdf`);
      expect(pdf.status).toBe(503);
      const body = (await pdf.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('GW_ERR_REPORT_PDF_UNAVAILABLE');
      expect(body.error.message).toContain('no-such-chromium-binary');
      expect((await other.fetch(`/api/risk/reports/daily?day=${YESTERDAY}`)).status).toBe(200);
      expect((await other.fetch(`/api/risk/reports/daily?day=${YESTERDAY}&format=csv`)).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

function isoWeek(day: string): string {
  const t = Date.parse(`${day}T00:00:00Z`);
  const dow = (new Date(t).getUTCDay() + 6) % 7;
  const thu = t + (3 - dow) * DAY_MS;
  const y = new Date(thu).getUTCFullYear();
  return `${y}-W${String(Math.floor((thu - Date.UTC(y, 0, 1)) / DAY_MS / 7) + 1).padStart(2, '0')}`;
}
