/**
 * The demo as a user meets it, in real Chromium: `npm start` on a fresh data
 * dir (the storyline's rooms), log in, and within two minutes the overview
 * counts active alarms and marks the room whose transformer lost supply, the
 * alarm console lists the one-key call and the outage, and the room view's
 * sensor cards show only what each sensor reports (a door contact its door,
 * a thermometer its temperature and humidity), and the 风险码 ranking, on
 * the demo's own risk model (config/demo/risk.yaml, recomputed every
 * minute), shows a station yellow or red from what the storyline caused.
 * Screenshots go to the test's temp dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard, launchChromium, loginPage } from '../support/browser.ts';
import { startDemo, stopDemo, type Demo } from '../support/demo.ts';

const PASSWORD = 'demo-browser-password-1';
let dir = '';
let demo: Demo | undefined;
let browser: Browser | undefined;
let page: Page;
let started = 0;
const shot = (name: string) => path.join(dir, `${name}.png`);
const left = () => Math.max(5_000, 140_000 - (Date.now() - started));

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-demo-browser-'));
  const dashboardDir = await buildDashboard();
  demo = await startDemo({ GW_DATA_DIR: path.join(dir, 'data'), GW_ADMIN_PASSWORD: PASSWORD, GW_DEMO_ROOMS: 'storyline', GW_DEMO_MODBUS_BASE_PORT: '0', GW_DEMO_DASHBOARD_DIR: dashboardDir });
  started = Date.now();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (demo) await stopDemo(demo);
  // the screenshots stay for a look when GW_TEST_KEEP is set
  if (!process.env.GW_TEST_KEEP) await rm(dir, { recursive: true, force: true });
  else process.stdout.write(`demo screenshots in ${dir}\n`);
});

describe('the demo in a browser', () => {
  it('the overview shows active alarms and the outage within two minutes', { timeout: 200_000 }, async () => {
    await loginPage(page, demo!.url, 'admin', PASSWORD, '#/overview');
    // the summary chip counts the active alarms
    await page.waitForFunction(() => Number(document.querySelector('.chip.c-alarms[data-k="alarms"] b')?.textContent) > 0, undefined, { timeout: left() });
    // r-302's 2# transformer loses supply at 40 s: its room card says outage
    await page.waitForSelector('.badge.b-outage:not([hidden])', { timeout: left() });
    await page.screenshot({ path: shot('overview'), fullPage: true });
  });

  it('the alarm console lists the one-key call and the outage', { timeout: 200_000 }, async () => {
    await page.goto(`${demo!.url}/#/alarms`);
    const story = () => demo!.lines().filter((l) => /storyline|one-key|call/.test(l)).join('\n');
    await page.waitForSelector('.alarms-table tr.is-call', { timeout: left() }).catch((err: Error) => {
      throw new Error(`no call in the console: ${err.message}\n${story()}`);
    });
    await page.waitForSelector('.alarms-table tr[data-alarm^="outage:"]', { timeout: left() }).catch((err: Error) => {
      throw new Error(`no outage in the console: ${err.message}\n${story()}`);
    });
    const call = (await page.textContent('.alarms-table tr.is-call'))!;
    expect(call).toContain('王师傅');
    await page.screenshot({ path: shot('alarms'), fullPage: true });
  });

  it('a room\'s sensor cards show only the quantities each sensor reports', { timeout: 120_000 }, async () => {
    await page.goto(`${demo!.url}/#/room/s1/r-102`);
    const visible = (device: string) =>
      page.$$eval(`.sensor[data-device="${device}"] .tile`, (tiles) => tiles.filter((t) => !(t as HTMLElement).hidden).map((t) => t.getAttribute('data-q')));
    await page.waitForFunction(() => document.querySelectorAll('.sensor .tile:not([hidden])').length >= 5, undefined, { timeout: 60_000 });
    expect(await visible('door-102')).toEqual(['door']);
    expect((await visible('th-102')).sort()).toEqual(['humidity', 'temp']);
    expect((await visible('txt-102')).sort()).toEqual(['t_oil', 't_winding']);
    expect(await page.innerText('.sensor[data-device="door-102"]')).not.toContain('—');
    await page.screenshot({ path: shot('room'), fullPage: true });
  });

  it('a station turns yellow or red on the 风险码 ranking from the storyline\'s events', { timeout: 240_000 }, async () => {
    // the demo's model is in force: today only, a provisional run every minute
    const model = await page.evaluate(async () => (await fetch('./api/risk/model')).json());
    expect(model).toMatchObject({ windowDays: 1, provisionalEveryMinutes: 1 });
    await page.goto(`${demo!.url}/#/risk`);
    // the fault outage of t-302-2 at 40 s and the repair call linked to it at 75 s weigh on s3; the ranking refreshes itself
    await page.waitForSelector('.rk-table tbody tr:first-child:is([data-code="red"], [data-code="yellow"])', { timeout: Math.max(60_000, 230_000 - (Date.now() - started)) });
    const first = await page.$eval('.rk-table tbody tr:first-child', (tr) => ({ station: tr.getAttribute('data-station'), driving: tr.querySelector('.driving')?.getAttribute('data-driving') }));
    expect(['repair-calls-per-1000', 'fault-outages', 'customer-hours', 'unacknowledged-alarms', 'notices-late-or-wrong', 'one-key-calls', 'voltage-qualification']).toContain(first.driving);
    await page.screenshot({ path: shot('risk'), fullPage: true });
    await page.click(`.rk-table tr[data-station="${first.station}"] td a`);
    await page.waitForSelector('.rk-station[data-loaded] .rk-indicators tbody tr');
    await page.screenshot({ path: shot('risk-station'), fullPage: true });
  });
});
