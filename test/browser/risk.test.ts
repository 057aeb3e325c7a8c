/**
 * 风险码 in real Chromium against a real server (embedded broker, DuckDB,
 * the outage pool, the risk runtime and its items): repair calls entered
 * through the REST API on the last four days (two a day at one station, one
 * at another, none at the third), each day computed by the operator's run,
 * today's by the provisional one; the ranking shows red, yellow, green worst
 * first with the code in words, the trend line and the driving indicator;
 * the code filter; the drill-down's indicators (one with no input in
 * gridwatch says so), dimensions, history chart and items; the station's
 * own operator answers its item through the form (no verify buttons for
 * them), the center's operator is refused a rejection without a comment,
 * then verifies and closes it; a viewer gets no "compute now"; English.
 * Screenshots: test-artifacts/risk-*.png.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RiskItem, RiskRanking } from '../../contract/risk.ts';
import { buildDashboard, launchChromium, loginPage, screenshotPath } from '../support/browser.ts';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';

const site = (id: string, name: string) => `
  - id: ${id}
    name: ${name}
    rooms:
      - id: r-${id}
        name: ${name}配电房
        agent: ag-${id}
        transformers:
          - { id: t-${id}, name: 1#配变, ratedKva: 630, meter: m-${id}, lines: [{ id: l-${id}, name: 1号楼出线, ratedCurrentA: 250 }] }`;
const customers = (id: string) => Array.from({ length: 10 }, (_, i) => `  - { id: c-${id}-${i}, name: 住户${i}, site: ${id}, transformer: t-${id}, line: l-${id}, contacts: [{ name: 住户${i}, role: 户主, phone: '1390000${id.length}${String(i).padStart(3, '0')}' }] }`).join('\n');
const TOPOLOGY = `sites:${site('rk-a', '城关供电所')}${site('rk-b', '河西供电所')}${site('rk-c', '青石供电所')}
customers:
${customers('rk-a')}
${customers('rk-b')}
${customers('rk-c')}
`;
/** a test model: repair calls weigh most (2 a day at 10 customers: red; 1: yellow); one indicator with no input listed */
const MODEL = `version: 1
timezone: "+08:00"
windowDays: 1
thresholds: { yellow: 10, red: 40 }
hysteresis: { margin: 3, enterDays: 1, leaveDays: 3 }
minCoverage: 0.5
indicators:
  - { id: repair-calls-per-1000, weight: 0.6, good: 0, bad: 200 }
  - { id: fault-outages, weight: 0.1, good: 0, bad: 3 }
  - { id: customer-hours, weight: 0.1, good: 0, bad: 10 }
  - { id: unacknowledged-alarms, weight: 0.1, good: 0, bad: 5 }
  - { id: ack-time-mean, weight: 0.05, good: 2, bad: 15 }
  - { id: complaints, weight: 0.05, good: 0, bad: 3 }
`;
const DAY_MS = 86_400_000;
const dayOf = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 10);
const TODAY = dayOf(Date.now());
/** noon of `k` days ago, +08:00 */
const noon = (k: number) => Date.parse(`${dayOf(Date.now() - k * DAY_MS)}T12:00:00+08:00`);

let ts: TestServer;
let browser: Browser;
let page: Page;
let dir = '';

async function post(url: string, body: unknown, role: 'operator' | 'admin' = 'operator'): Promise<Response> {
  return ts.fetch(url, { method: 'POST', role, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-risk-browser-'));
  const model = path.join(dir, 'risk.yaml');
  await writeFile(model, MODEL);
  const [dashboardDir, b] = await Promise.all([buildDashboard(), launchChromium()]);
  browser = b;
  ts = await startTestServer({ topologyYaml: TOPOLOGY, extra: { dashboardDir, risk: { file: model } } });
  // the station's own operator
  expect((await post('/api/users', { username: 'rk-a-op', password: TEST_PASSWORD, role: 'operator', sites: ['rk-a'] }, 'admin')).status).toBe(201);
  // repair calls of the last four days: two a day at rk-a, one at rk-b, none at rk-c; each past day computed in order, then today
  for (let k = 3; k >= 0; k--) {
    for (const c of ['c-rk-a-1', 'c-rk-a-2', 'c-rk-b-1']) expect((await post('/api/tickets', { customer: c, time: k === 0 ? Math.max(Date.parse(`${TODAY}T00:00:00+08:00`), Date.now() - 60_000) : noon(k), text: '家里停电了' })).status).toBe(201);
    const r = await post('/api/risk/compute', { day: dayOf(noon(k)) });
    expect(r.status, await r.clone().text()).toBe(200);
  }
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await loginPage(page, ts.server.url, 'operator', TEST_PASSWORD, '#/risk');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await ts?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('风险码 in Chromium', () => {
  it('ranks the stations worst first with their codes in colour and words, trend and driving indicator', async () => {
    const rest = (await (await ts.fetch('/api/risk/ranking')).json()) as RiskRanking;
    expect(rest.day).toBe(TODAY);
    expect(rest.rows.map((r) => [r.station, r.code])).toEqual([['rk-a', 'red'], ['rk-b', 'yellow'], ['rk-c', 'green']]);
    await page.waitForSelector(`.rk-ranking[data-loaded="${TODAY}"] .rk-table tbody tr`);
    const rows = await page.$$eval('.rk-table tbody tr', (trs) => trs.map((tr) => ({ station: tr.getAttribute('data-station'), code: tr.querySelector('.rcode')?.textContent, driving: tr.querySelector('.driving')?.textContent, points: tr.querySelector('svg.spark path')?.getAttribute('d')?.split(/[ML]/).filter(Boolean).length ?? 0, days: tr.querySelector('.high-days')?.textContent })));
    expect(rows.map((r) => [r.station, r.code])).toEqual([['rk-a', '红码'], ['rk-b', '黄码'], ['rk-c', '绿码']]);
    expect(rows[0]!.driving).toBe('千户报修量');
    // four computed days on the trend line
    expect(rows[0]!.points).toBe(4);
    expect(rows[0]!.days).toBe(String(rest.rows[0]!.highRiskDaysThisMonth));
    expect(await page.textContent('.rk-summary')).toContain('红码 1');
    // an operator of the center may compute; the links to the center's sheets are there
    expect(await page.isVisible('button.rk-compute')).toBe(true);
    const daily = (await page.getAttribute('[data-report="reportDaily"] a', 'href'))!;
    expect(daily).toContain(`/api/risk/reports/daily?day=${TODAY}&format=html&lang=zh`);
    expect(await page.evaluate(async (h) => (await fetch(h)).status, daily)).toBe(200);
    await page.screenshot({ path: await screenshotPath('risk-ranking-zh'), fullPage: true });

    // the code filter keeps the red station only, and says so in the address
    await page.click('.rk-codes button[data-code="red"]');
    expect(await page.$$eval('.rk-table tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-station')))).toEqual(['rk-a']);
    expect(await page.evaluate(() => location.hash)).toContain('code=red');
    await page.click('.rk-codes button[data-code=""]');

    // the day picker shows another day's ranking, in the address too
    const yesterday = dayOf(noon(1));
    await page.fill('.rk-day', yesterday);
    await page.waitForSelector(`.rk-ranking[data-loaded="${yesterday}"] .rk-table tbody tr`);
    expect(await page.evaluate(() => location.hash)).toContain(`day=${yesterday}`);
    // "compute now" recomputes the day shown (today: a provisional run)
    await page.fill('.rk-day', TODAY);
    await page.waitForSelector(`.rk-ranking[data-loaded="${TODAY}"]`);
    const before = await page.getAttribute('.rk-ranking', 'data-computed-at');
    await page.click('button.rk-compute');
    await page.waitForFunction((b) => { const v = document.querySelector('.rk-ranking')?.getAttribute('data-computed-at'); return !!v && v !== b; }, before);
    const after = (await (await ts.fetch(`/api/risk/stations/rk-a?from=${TODAY}&to=${TODAY}`)).json()) as { days: Array<{ run: string; code: string }> };
    expect(after.days.map((d) => [d.run, d.code])).toEqual([['provisional', 'red']]);
  });

  it('drills down to a station: indicators with their status, dimensions, history with thresholds, its item', async () => {
    await page.click('.rk-table tr[data-station="rk-a"] td a');
    await page.waitForSelector('.rk-station[data-loaded] .rk-indicators tbody tr');
    const ind = await page.$$eval('.rk-indicators tbody tr', (trs) => Object.fromEntries(trs.map((tr) => [tr.getAttribute('data-indicator'), { status: tr.querySelector('.status')?.textContent, value: tr.children[1]?.textContent }])));
    expect(ind['repair-calls-per-1000']).toEqual({ status: '已计分', value: '200' });
    const report = (await page.getAttribute('.rk-station [data-report="station"]', 'href'))!;
    expect(report).toContain(`/api/risk/reports/station/rk-a?day=${TODAY}&format=html`);
    expect(await page.evaluate(async (h) => (await fetch(h)).status, report)).toBe(200);
    // today against the previous day's score
    expect(await page.textContent('.rk-station .head .delta')).toMatch(/^[▲▼±]/);
    // no complaint channel in gridwatch: said so, never a 0
    expect(ind['complaints']).toEqual({ status: '暂无数据来源', value: '—' });
    expect(await page.$$eval('.rk-dim', (d) => d.map((x) => x.getAttribute('data-dim')))).toEqual(['demand', 'handling', 'speed']);
    // the score history on uPlot: the score and the two thresholds
    await page.waitForSelector('.rk-chart[data-days="4"] .uplot');
    expect(await page.$$eval('.rk-chart .u-legend .u-series', (s) => s.length)).toBe(4);
    await page.waitForSelector('.rk-items tbody tr');
    expect(await page.textContent('.rk-items tbody tr')).toContain('红码');
    await page.screenshot({ path: await screenshotPath('risk-station-zh'), fullPage: true });
  });

  it('the station answers its item in the form, the center verifies and closes it', async () => {
    const { items } = (await (await ts.fetch('/api/risk/items?station=rk-a')).json()) as { items: RiskItem[] };
    const item = items.find((i) => i.state === 'open')!;
    expect(item).toBeDefined();
    const station = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await loginPage(station, ts.server.url, 'rk-a-op', TEST_PASSWORD, `#/risk/items/${item.id}`);
      await station.waitForSelector('.rk-item[data-state="open"] .rk-follow textarea');
      // a station user answers, the center verifies: no verify buttons here, no "compute now" on the ranking
      expect(await station.$('.rk-verify')).toBeNull();
      await station.fill('.rk-follow textarea', '已安排抢修班组巡视线路，更换老化接头');
      await station.click('.rk-follow button.follow-send');
      await station.waitForSelector('.rk-item[data-state="answered"]');
      expect(await station.textContent('.rk-journal')).toContain('已安排抢修班组巡视线路');
      // the system's steps said in the page's language from their kinds: the opening code's word, whom it was assigned to; none of the server's English
      expect(await station.textContent('.rk-journal li[data-kind="opened"] .ev-text')).toContain(item.openedCode === 'red' ? '红码' : '黄码');
      const assigned = (await station.textContent('.rk-journal li[data-kind="assigned"] .ev-text')) ?? '';
      if (item.assignees.length) for (const a of item.assignees) expect(assigned).toContain(a.name);
      else expect(assigned).toMatch(/^未指派：通讯录中无 .+ 的责任人，也无中心值班/);
      expect(await station.textContent('.rk-journal')).not.toMatch(/responsible people of|contact directory|not answered|nobody to notify/);
      await station.screenshot({ path: await screenshotPath('risk-item-station-zh'), fullPage: true });
      await station.goto(`${ts.server.url}/#/risk`);
      await station.waitForSelector('.rk-table tbody tr');
      expect(await station.$$eval('.rk-table tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-station')))).toEqual(['rk-a']);
      expect(await station.$('button.rk-compute')).toBeNull();
    } finally {
      await station.close();
    }

    await page.goto(`${ts.server.url}/#/risk/items/${item.id}`);
    await page.waitForSelector('.rk-item[data-state="answered"] .rk-verify');
    // a rejection needs a comment: the form says so and nothing is sent
    await page.click('.rk-verify button.verify-reject');
    expect(await page.textContent('.rk-verify .msg')).toBe('请填写内容');
    expect(await page.getAttribute('.rk-item', 'data-state')).toBe('answered');
    await page.fill('.rk-verify textarea', '现场核查属实');
    await page.click('.rk-verify button.verify-accept');
    await page.waitForSelector('.rk-item[data-state="closed"]');
    expect(await page.$('.rk-follow')).toBeNull();
    const after = (await (await ts.fetch(`/api/risk/items/${item.id}`)).json()) as RiskItem;
    expect(after.state).toBe('closed');
    expect(after.events.map((e) => e.kind)).toEqual(expect.arrayContaining(['opened', 'follow-up', 'verified']));
    expect(after.events.find((e) => e.kind === 'follow-up')?.by).toBe('rk-a-op');
    await page.screenshot({ path: await screenshotPath('risk-item-closed-zh'), fullPage: true });
  });

  it('a viewer has no "compute now"; English throughout, no message key on screen', async () => {
    const viewer = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    try {
      await loginPage(viewer, ts.server.url, 'viewer', TEST_PASSWORD, '#/risk');
      await viewer.waitForSelector('.rk-table tbody tr');
      expect(await viewer.$('button.rk-compute')).toBeNull();
      await viewer.click('#lang');
      await viewer.waitForFunction(() => document.querySelector('.rk-ranking h2')?.textContent === 'Service-risk code of the supply stations');
      await viewer.waitForSelector('.rk-table tbody tr');
      expect(await viewer.$$eval('.rk-table tbody tr .rcode', (c) => c.map((x) => x.textContent))).toEqual(['red', 'yellow', 'green']);
      expect(await viewer.textContent('.rk-table tbody tr .driving')).toBe('Repair calls per 1,000 customers');
      const text = await viewer.innerText('#view');
      expect(text).not.toMatch(/\brk_\w+/);
      // station names are shown as configured; none of the view's own words in Chinese
      expect(text).not.toMatch(/风险|红码|黄码|绿码|报修|指标/);
      await viewer.screenshot({ path: await screenshotPath('risk-ranking-en'), fullPage: true });
      await viewer.click('.rk-table tr[data-station="rk-b"] td a');
      await viewer.waitForSelector('.rk-station[data-loaded] .rk-indicators tbody tr');
      expect(await viewer.textContent('.rk-indicators tr[data-indicator="complaints"] .status')).toBe('not available (no input yet)');
      await viewer.screenshot({ path: await screenshotPath('risk-station-en'), fullPage: true });
    } finally {
      await viewer.close();
    }
  });
});
