/**
 * Line loss in real Chromium against a real server (embedded broker,
 * DuckDB): the station's areas of a day ranked worst first (12 % high
 * loss, 4 %, −3 % negative, one area incomplete naming its missing meter),
 * the live estimate, an area's daily history chart, the CSV link, English.
 * Screenshots: test-artifacts/energy-*.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { StoredReading } from '../../server/index.ts';
import { buildDashboard, launchChromium, loginPage, screenshotPath } from '../support/browser.ts';
import { TEST_PASSWORD, startTestServer, type TestServer } from '../support/server.ts';

const TOPOLOGY = `
sites:
  - id: ll-east
    name: 城东供电所
    rooms:
      - id: r1
        name: 锦绣花园配电房
        agent: ll-agent
        transformers:
          - { id: t1, name: 1#配变, ratedKva: 400, meter: ll-m1, lines: [{ id: l1, name: 1号楼, meter: ll-m2 }] }
          - { id: t2, name: 2#配变, ratedKva: 400, meter: ll-m3, lines: [{ id: l2, name: 2号楼, meter: ll-m4 }] }
      - id: r2
        name: 幸福里配电房
        agent: ll-agent
        transformers:
          - { id: t3, name: 3#配变, ratedKva: 630, meter: ll-m5, lines: [{ id: l3, name: 商业街, meter: ll-m6 }] }
          - { id: t4, name: 4#配变, ratedKva: 630, meter: ll-m7, lines: [{ id: l4, name: 学校, meter: ll-m8 }] }
`;
const PLACE: Record<string, [string, string, string, number]> = {
  // device: room, transformer, line, kWh per hour
  'll-m1': ['r1', 't1', '', 100], 'll-m2': ['r1', 't1', 'l1', 96],
  'll-m3': ['r1', 't2', '', 100], 'll-m4': ['r1', 't2', 'l2', 88],
  'll-m5': ['r2', 't3', '', 200], 'll-m6': ['r2', 't3', 'l3', 206],
  'll-m7': ['r2', 't4', '', 50], 'll-m8': ['r2', 't4', 'l4', 48],
};
const MIN = 60_000;
const DAY_MS = 86_400_000;
/** yesterday's local midnight in China (UTC+8), and its date */
const midnight = Math.floor((Date.now() + 8 * 3_600_000) / DAY_MS) * DAY_MS - 8 * 3_600_000 - DAY_MS;
const DAY = new Date(midnight + 8 * 3_600_000).toISOString().slice(0, 10);

let ts: TestServer;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  const [dashboardDir, b] = await Promise.all([buildDashboard(), launchChromium()]);
  browser = b;
  ts = await startTestServer({ topologyYaml: TOPOLOGY, extra: { dashboardDir, energy: { checkS: 1, catchUpIntervals: 0 } } });
  // four days up to yesterday's end, every 5 min; ll-m8 silent all of yesterday
  const rows: StoredReading[] = [];
  for (let m = -3 * 1440; m <= 1440 + 10; m += 5)
    for (const [device, [room, transformer, line, rate]] of Object.entries(PLACE)) {
      if (device === 'll-m8' && m > 0 && m < 1440 + 10) continue;
      rows.push({ site: 'll-east', room, transformer, line, device, ts: midnight + m * MIN, q: 'good', late: false, v: { ep_imp: 1000 + (rate * (m + 3 * 1440)) / 60 } });
    }
  // the last minutes' mean power: the live estimate
  const now = Math.floor(Date.now() / MIN) * MIN;
  for (let k = 0; k <= 3; k++)
    for (const [device, [room, transformer, line, rate]] of Object.entries(PLACE)) rows.push({ site: 'll-east', room, transformer, line, device, ts: now - k * MIN, q: 'good', late: false, v: { p: rate } });
  await ts.server.store.write(rows);
  const r = await ts.fetch('/api/energy/line-loss/compute', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ interval: '1d', from: String(midnight - 3 * DAY_MS), to: String(midnight + DAY_MS) }),
  });
  expect(r.status).toBe(200);
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await loginPage(page, ts.server.url, 'viewer', TEST_PASSWORD, '#/overview');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await ts?.close();
});

describe('line loss in Chromium', () => {
  it('ranks the station\'s areas of the day worst first, flags high and negative loss, names the missing meter, shows the live estimate', async () => {
    await page.click('nav a[data-nav="energy"]');
    await page.waitForSelector('.view.energy[data-loaded]', { timeout: 20_000 });
    await page.goto(`${ts.server.url}/#/energy?site=ll-east&day=${DAY}`);
    await page.waitForSelector(`.view.energy[data-loaded="ll-east/${DAY}"]`, { timeout: 20_000 });
    const rows = () => page.$$eval('.ll-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    const r = await rows();
    expect(r.map((x) => [x[0], x[1], x[2]])).toEqual([
      ['1', '锦绣花园配电房 / 2#配变', '12.00%高损'],
      ['2', '锦绣花园配电房 / 1#配变', '4.00%'],
      ['3', '幸福里配电房 / 3#配变', '-3.00%负损'],
      ['4', '幸福里配电房 / 4#配变', '—'],
    ]);
    expect(r[0]!.slice(3, 7)).toEqual(['2,400', '2,112', '288', '完整']);
    expect(r[3]![6]).toBe('缺 1 表：ll-m8');
    expect(await page.textContent('.ll-summary')).toBe('4 个台区，3 个数据完整，1 个高损（>10%），1 个负损（<−1%）');
    // the live estimate of the last full minute
    await page.waitForFunction(() => document.querySelector('.ll-table tr[data-transformer="t1"] td.live')?.textContent === '4.00%', undefined, { timeout: 40_000 });
    const href = await page.getAttribute('.view.energy a.export-csv', 'href');
    expect(href).toContain('energy/line-loss.csv?site=ll-east&interval=1d');
    const csv = await ts.fetch(href!.replace(/^\.\//, '/'));
    expect(await csv.text()).toContain('ll-east,r1,t2,1d');
    await page.screenshot({ path: await screenshotPath('energy-rank'), fullPage: true });
  });

  it('draws the chosen area\'s daily history', async () => {
    await page.click('.ll-table tr[data-transformer="t2"]');
    await page.waitForSelector('.view.energy[data-chart="t2"] .ll-chart canvas', { timeout: 10_000 });
    expect(await page.textContent('.ll-chart-title')).toBe('锦绣花园配电房 / 2#配变 · 近 30 天日线损率');
    expect(page.url()).toContain('area=t2');
    // three full days before yesterday and yesterday: four points at 12 %
    const legend = await page.$$eval('.ll-chart .u-legend .u-series', (s) => s.length);
    expect(legend).toBe(4);
    await page.screenshot({ path: await screenshotPath('energy-history'), fullPage: true });
  });

  it('speaks English', async () => {
    await page.click('#lang');
    await page.waitForSelector('.ll-table th:text("Loss rate")', { timeout: 10_000 });
    expect(await page.textContent('nav a[data-nav="energy"]')).toBe('Line loss');
    await page.screenshot({ path: await screenshotPath('energy-en'), fullPage: true });
    await page.click('#lang');
  });
});
