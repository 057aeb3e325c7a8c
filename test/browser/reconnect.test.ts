/**
 * The page survives a server restart by itself: the same page (never
 * reloaded) shows the connection lost and its values greyed while the server
 * is down, then reconnects, takes a fresh snapshot and is live again —
 * including a change that happened while it was away (a meter that died
 * during the outage shows as comm loss, not with its pre-restart values).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { freePort, launchChromium, loginPage, screenshotPath } from '../support/browser.ts';
import { TEST_PASSWORD } from '../support/server.ts';
import { startRig, UNIT, type Rig } from './rig.ts';

let rig: Rig;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  // fixed ports: the restarted server must come back where page, agents and sensor look for it
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const serverExtra = { http: { host: '127.0.0.1', port: httpPort }, mqtt: { embedded: { host: '127.0.0.1', port: mqttPort } } };
  [rig, browser] = await Promise.all([startRig({ serverExtra, historyHours: 1 }), launchChromium()]);
  page = await (await browser.newContext({ viewport: { width: 1440, height: 700 } })).newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rig?.stop();
});

describe('server restart', () => {
  it('the open page shows the outage honestly, then reconnects and resyncs without a reload', async () => {
    await loginPage(page, rig.server.server.url, 'viewer', TEST_PASSWORD, '#/overview');
    for (const d of Object.keys(UNIT)) await page.waitForSelector(`.lrow[data-device="${d}"].q-good`, { timeout: 15_000 });
    await page.evaluate(() => ((window as unknown as { gwMarker: number }).gwMarker = 42));
    const snapshotsBefore = Number(await page.getAttribute('#conn', 'data-snapshots'));
    // a second tab on a live chart: after the restart it reloads its window (the hole is filled from the store)
    const charts = await page.context().newPage();
    await charts.goto(`${rig.server.server.url}/#/charts?d=b-m1&q=ia,ib,ic&w=15m`);
    await charts.waitForSelector('.chart[data-state="live"]');
    await charts.waitForFunction(() => Number(document.querySelector('.chart')?.getAttribute('data-points')) > 0);
    const loadsBefore = Number(await charts.getAttribute('.chart', 'data-loads'));

    const restarted = rig.restartServer(3000);
    await page.waitForSelector('#conn[data-state="closed"]', { timeout: 10_000 });
    expect(await page.textContent('#conn')).toMatch(/连接断开，重连中 · 数据截至 \d\d:\d\d:\d\d/);
    // nothing on the page is shown as live while the server is away
    // (the rows repaint on the next frame after the connection state changes)
    await page.waitForSelector('.lrow[data-device="b-m2"].q-offline', { timeout: 5000 });
    expect(Number(await page.$eval('.lrow[data-device="b-m2"] .pct', (e) => getComputedStyle(e).opacity))).toBeLessThan(0.6);
    await page.screenshot({ path: await screenshotPath('reconnect-server-down'), fullPage: true });
    // a meter dies while the page cannot hear about it
    rig.sim.setDead(UNIT['b-m6'], true);
    await restarted;

    await page.waitForSelector('#conn[data-state="open"]', { timeout: 20_000 });
    expect(Number(await page.getAttribute('#conn', 'data-snapshots'))).toBeGreaterThan(snapshotsBefore);
    expect(await page.evaluate(() => (window as unknown as { gwMarker?: number }).gwMarker)).toBe(42);
    // live again, values moving, and the meter that died during the outage is shown as such
    await page.waitForSelector('.lrow[data-device="b-m1"].q-good', { timeout: 15_000 });
    const cur = await page.textContent('.lrow[data-device="b-m1"] .cur');
    await page.waitForFunction((v) => document.querySelector('.lrow[data-device="b-m1"] .cur')?.textContent !== v, cur, { timeout: 15_000 });
    await page.waitForSelector('.lrow[data-device="b-m6"].q-comm_loss', { timeout: 15_000 });
    expect(await page.textContent('.lrow[data-device="b-m6"] .fresh')).toContain('通信中断');
    await page.screenshot({ path: await screenshotPath('reconnect-resynced'), fullPage: true });
    await charts.waitForSelector('#conn[data-state="open"]');
    await charts.waitForFunction((n) => Number(document.querySelector('.chart')?.getAttribute('data-loads')) > n, loadsBefore, { timeout: 10_000 });
    const pts = Number(await charts.getAttribute('.chart', 'data-points'));
    await charts.waitForFunction((n) => Number(document.querySelector('.chart')?.getAttribute('data-points')) > n, pts, { timeout: 10_000 });
    await charts.screenshot({ path: await screenshotPath('reconnect-chart'), fullPage: true });
    await charts.close();
    rig.sim.setDead(UNIT['b-m6'], false);
  });
});
