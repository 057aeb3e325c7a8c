/**
 * "Export CSV" in real Chromium: on the charts view the button downloads the
 * chosen device's readings of the shown window (headers in the page's
 * language, BOM, CRLF); on the alarm console it downloads the alarm list.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { StoredReading } from '../../server/index.ts';
import { buildDashboard, launchChromium, loginPage } from '../support/browser.ts';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';

const TOPOLOGY = `
sites:
  - id: ex-site
    name: 导出站
    rooms:
      - id: r1
        name: R1
        transformers:
          - id: t1
            name: T1
            ratedKva: 630
            lines:
              - { id: l1, name: L1, ratedCurrentA: 250, meter: ex-m1 }
`;
let ts: TestServer;
let browser: Browser;
let page: Page;
const t0 = Date.now() - 60_000;

beforeAll(async () => {
  const dashboardDir = await buildDashboard();
  [ts, browser] = await Promise.all([startTestServer({ topologyYaml: TOPOLOGY, extra: { dashboardDir } }), launchChromium()]);
  const readings: StoredReading[] = [1, 2, 3].map((k) => ({ site: 'ex-site', room: 'r1', transformer: 't1', line: 'l1', device: 'ex-m1', ts: t0 + k * 1000, q: 'good', late: false, v: { ia: 10 * k } }));
  await ts.server.store.write(readings);
  const res = await ts.fetch(`/api/alarms/${encodeURIComponent('comm-loss:ex-m1')}/remove-from-service`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reason: '=1+1, "检修"' }) });
  expect(res.status).toBe(200);
  page = await browser.newPage({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  await loginPage(page, ts.server.url, 'viewer', TEST_PASSWORD, '#/charts?d=ex-m1&q=ia&w=15m');
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await ts?.close();
});

async function download(selector: string): Promise<{ name: string; text: string }> {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click(selector)]);
  const file = await dl.path();
  const bytes = await readFile(file);
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  return { name: dl.suggestedFilename(), text: bytes.subarray(3).toString('utf8') };
}

describe('Export CSV buttons', () => {
  it('the charts view downloads the shown window of the chosen device, with Chinese headers by default', async () => {
    await page.waitForSelector('.chartsview button[data-act="export-csv"]');
    expect((await page.textContent('.chartsview button[data-act="export-csv"]'))?.trim()).toBe('导出 CSV');
    const { name, text } = await download('.chartsview button[data-act="export-csv"]');
    expect(name).toBe('history-ex-m1.csv');
    const lines = text.split('\r\n');
    expect(lines[0]).toBe('时间,站点,设备,ia');
    expect(lines.slice(1, 4).map((l) => l.split(',').slice(1).join(','))).toEqual(['ex-site,ex-m1,10', 'ex-site,ex-m1,20', 'ex-site,ex-m1,30']);
    expect(lines[1]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00,/);
    expect(lines.at(-1)).toBe('');
  }, 60_000);

  it('the alarm console downloads the standing alarms in the page\'s language', async () => {
    await page.click('#lang');
    await page.goto(`${ts.server.url}/#/alarms`);
    await page.waitForSelector('.view.alarms button[data-act="export-csv"]');
    expect((await page.textContent('.view.alarms button[data-act="export-csv"]'))?.trim()).toBe('Export CSV');
    const { name, text } = await download('.view.alarms button[data-act="export-csv"]');
    expect(name).toBe('alarms.csv');
    const lines = text.split('\r\n');
    expect(lines[0]!.startsWith('alarm id,rule,')).toBe(true);
    expect(lines[1]!.startsWith('comm-loss:ex-m1,comm-loss,')).toBe(true);
    expect(lines[1]!.endsWith(`,"'=1+1, ""检修"""`)).toBe(true);
  }, 60_000);
});
