/**
 * The dashboard for a user scoped to one station, in real headless Chromium
 * against the full rig (server, Modbus simulator, edge agents): it logs in,
 * shows that station's rooms with live values and nothing of the other, its
 * alarm page loads, and the page raises no script error and gets no refused
 * request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, loginPage, screenshotPath } from '../support/browser.ts';
import { startRig, type Rig } from '../browser/rig.ts';

const PW = 'east-password-1';
let rig: Rig;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  [rig, browser] = await Promise.all([startRig(), launchChromium()]);
  const r = await rig.server.fetch('/api/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'east-operator', password: PW, role: 'operator', sites: ['b-east'] }) });
  expect(r.status, await r.clone().text()).toBe(201);
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('response', (res) => {
    if (res.status() >= 400 && res.url().includes('/api/')) problems.push(`${res.status()} ${res.url()}`);
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rig?.stop();
});

describe('dashboard for a user scoped to one station', () => {
  it('shows its station only, live, and the alarm page, without errors', async () => {
    await loginPage(page, rig.server.server.url, 'east-operator', PW);
    // before the login the page asked who it is and was told 401: expected
    expect(problems.filter((p) => !p.startsWith('401 ') || !p.endsWith('/api/me'))).toEqual([]);
    problems.length = 0;
    await page.waitForSelector('.room-card[data-room="b-east/r1"]');
    for (const d of ['b-m1', 'b-m2']) await page.waitForSelector(`.lrow[data-device="${d}"].q-good`, { timeout: 15_000 });
    expect(await page.$('.room-card[data-room="b-west/r2"]')).toBeNull();
    expect(await page.$('.lrow[data-device="b-m5"]')).toBeNull();
    expect(await page.textContent('.summary [data-k="rooms"] b')).toBe('1');
    await page.screenshot({ path: await screenshotPath('scoped-overview'), fullPage: true });
    await page.goto(`${rig.server.server.url}/#/alarms`);
    await page.waitForSelector('#conn[data-state="open"]');
    await page.waitForTimeout(1500);
    await page.screenshot({ path: await screenshotPath('scoped-alarms'), fullPage: true });
    expect(await page.$('.lrow[data-device="b-m5"]')).toBeNull();
    expect(problems).toEqual([]);
  });

  it('changes its own password through the header form; the page stays signed in and live', async () => {
    await page.click('#passwd');
    await page.waitForSelector('#passwd-form:not([hidden])');
    const fill = async (current: string, next: string, repeat: string) => {
      await page.fill('#passwd-form input[name="current"]', current);
      await page.fill('#passwd-form input[name="next"]', next);
      await page.fill('#passwd-form input[name="repeat"]', repeat);
      await page.click('#passwd-form button[type="submit"]');
    };
    await fill(PW, 'east-password-2', 'east-password-3');
    await page.waitForSelector('#passwd-error:has-text("两次输入的新密码不一致")');
    await fill('not-the-password', 'east-password-2', 'east-password-2');
    await page.waitForSelector('#passwd-error:has-text("当前密码错误")');
    await page.screenshot({ path: await screenshotPath('password-form'), fullPage: true });
    await fill(PW, 'east-password-2', 'east-password-2');
    await page.waitForSelector('#passwd-done:not([hidden])');
    expect(await page.isHidden('#passwd-form')).toBe(true);
    // the live connection was ended with the old session and comes back with the new one
    await page.waitForSelector('#conn[data-state="open"]', { timeout: 15_000 });
    expect(await page.isHidden('#login')).toBe(true);
    const me = await page.evaluate(async () => (await fetch('./api/me')).status);
    expect(me).toBe(200);
    const old = await fetch(`${rig.server.server.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'east-operator', password: PW }) });
    expect(old.status).toBe(401);
    // the refused wrong current password was the only refused request
    expect(problems.filter((p) => !p.startsWith('403 ') || !p.endsWith('/api/me/password'))).toEqual([]);
  });

  it('signing out (which also ends the live connection on the server) shows the form without a "session expired" message', async () => {
    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])');
    await page.waitForTimeout(1500);
    expect(await page.textContent('#login-error')).toBe('');
    expect(await page.isHidden('#passwd')).toBe(true);
  });
});
