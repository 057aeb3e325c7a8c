/**
 * The demo as a user meets it, in real Chromium: `npm start` on a fresh data
 * dir (the storyline's rooms), log in, and within two minutes the overview
 * counts active alarms and marks the room whose transformer lost supply, the
 * alarm console lists the one-key call and the outage, and the room view's
 * sensor cards show only what each sensor reports (a door contact its door,
 * a thermometer its temperature and humidity). Screenshots go to the test's
 * temp dir.
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
});
