/**
 * The dashboard in real headless Chromium against a real server, Modbus
 * simulator, edge agents and an MQTT room sensor: login and roles, the
 * overview with live load-rate bars, an injected overload, search and sort,
 * the distribution-room view, a dead meter turning to comm loss there, live
 * uPlot charts with history, and the English labels. Every view is saved as
 * a screenshot in test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, loginPage, screenshotPath } from '../support/browser.ts';
import { TEST_PASSWORD } from '../support/server.ts';
import { startRig, UNIT, type Rig } from './rig.ts';

let rig: Rig;
let browser: Browser;
let page: Page;
let base: string;

const OVERLOAD_RGB = 'rgb(255, 51, 85)'; // --lc-over
const MUTED_RGB = 'rgb(139, 155, 171)'; // --muted
const PHASE_RGB = { a: 'rgb(242, 194, 0)', b: 'rgb(47, 179, 68)', c: 'rgb(229, 72, 77)' };
/** what the overview shows of a reading, and so all it subscribes to (views/overview.ts OVERVIEW_QUANTITIES) */
const OVERVIEW_QUANTITIES = ['ia', 'ib', 'ic', 'load_rate', 'ua', 'ub', 'uc'];

/** The page's WebSocket traffic: its subscriptions and the value keys it is sent under the latest one. */
const ws = { subscribe: null as Record<string, unknown> | null, answered: false, frames: 0, keys: new Set<string>() };

beforeAll(async () => {
  [rig, browser] = await Promise.all([startRig({ historyHours: 3 }), launchChromium()]);
  base = rig.server.server.url;
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('websocket', (sock) => {
    sock.on('framesent', (f) => {
      const m = JSON.parse(String(f.payload)) as Record<string, unknown>;
      if (m.type !== 'subscribe') return;
      Object.assign(ws, { subscribe: m, answered: false, frames: 0, keys: new Set<string>() });
    });
    sock.on('framereceived', (f) => {
      const m = JSON.parse(String(f.payload)) as { type: string; readings?: Array<{ v: Record<string, number> }> };
      // the server answers a subscribe with a snapshot; frames on their way before it (the connect
      // snapshot among them) are not under the new subscription: count from the latest snapshot
      if (m.type === 'snapshot' && ws.subscribe) Object.assign(ws, { answered: true, frames: 0, keys: new Set<string>() });
      if (!ws.answered || !m.readings) return;
      ws.frames++;
      for (const r of m.readings) for (const k of Object.keys(r.v)) ws.keys.add(k);
    });
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rig?.stop();
});

const text = (sel: string) => page.textContent(sel).then((s) => s ?? '');

describe('dashboard in Chromium', () => {
  it('logs in through the form; a wrong password is refused; the role is shown', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('#login:not([hidden])');
    expect(await text('#conn')).toContain('未登录');
    await page.screenshot({ path: await screenshotPath('login'), fullPage: true });
    await page.fill('input[name="username"]', 'viewer');
    await page.fill('input[name="password"]', 'wrong-password');
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#login-error:has-text("用户名或密码错误")');
    await page.fill('input[name="password"]', TEST_PASSWORD);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#conn[data-state="open"]');
    expect(await text('#who')).toBe('viewer（值班查看）');
    expect(page.url()).toContain('#/overview');
  });

  it('overview: every room, transformer and line with live, changing load-rate bars', async () => {
    await page.waitForSelector('.room-card[data-room="b-east/r1"] .room-name:has-text("锦绣花园配电房")');
    await page.waitForSelector('.room-card[data-room="b-west/r2"] .room-name:has-text("开发区10kV开闭所")');
    for (const d of Object.keys(UNIT)) await page.waitForSelector(`.lrow[data-device="${d}"].q-good`, { timeout: 15_000 });
    // a line without a meter says so instead of showing nothing
    expect(await text('.room-card[data-room="b-west/r2"] .lrow:not([data-device]) .fresh')).toContain('无表计');
    const row = '.lrow[data-device="b-m2"]';
    const pct = await text(`${row} .pct`);
    expect(pct).toMatch(/^\d+\.\d%$/);
    expect(Number(await page.getAttribute(`${row} .bar`, 'aria-valuenow'))).toBeGreaterThan(0);
    const scale = await page.$eval(`${row} .bar .fill`, (e) => new DOMMatrix(getComputedStyle(e).transform).a);
    expect(scale).toBeGreaterThan(0);
    // values move: the transformer's current changes within a few polls
    const cur = await text('.lrow[data-device="b-m1"] .cur');
    await page.waitForFunction((v) => document.querySelector('.lrow[data-device="b-m1"] .cur')?.textContent !== v, cur, { timeout: 15_000 });
    expect(await text('.summary [data-k="rooms"] b')).toBe('2');
    expect(await text('.summary [data-k="lines"] b')).toBe('5');
    await page.waitForSelector('.summary [data-k="alarms"][data-counts]');
    expect(await text('.summary [data-k="alarms"]')).toMatch(/紧急 \d+ · 重要 \d+/);
    // light: the overview subscribes to the quantities it shows and is sent nothing else
    expect(ws.subscribe).toMatchObject({ type: 'subscribe', quantities: expect.arrayContaining(OVERVIEW_QUANTITIES) });
    expect(ws.frames).toBeGreaterThan(1);
    expect([...ws.keys].sort()).toEqual(OVERVIEW_QUANTITIES);
    await page.screenshot({ path: await screenshotPath('overview'), fullPage: true });
  });

  it('an overload injected in the simulator turns the line bar to the overload colour; sort puts it on top', async () => {
    // 2号楼出线 is rated 250 A: ~165 %
    rig.sim.setOverride(UNIT['b-m3'], { ia: 400, ib: 380, ic: 412 });
    const row = '.lrow[data-device="b-m3"]';
    await page.waitForSelector(`${row} .bar[data-class="over"]`, { timeout: 15_000 });
    expect(await page.$eval(`${row} .bar .fill`, (e) => getComputedStyle(e).backgroundColor)).toBe(OVERLOAD_RGB);
    expect(parseFloat(await text(`${row} .pct`))).toBeGreaterThan(160);
    expect(Number(await text('.summary [data-k="over"] b'))).toBeGreaterThanOrEqual(1);
    // per-phase currents in switchgear colours
    expect(await page.$eval(`${row} .cur .pa`, (e) => getComputedStyle(e).color)).toBe(PHASE_RGB.a);
    expect(await page.$eval(`${row} .cur .pc`, (e) => getComputedStyle(e).color)).toBe(PHASE_RGB.c);
    await page.click('.sortseg button[data-sort="load"]');
    await page.waitForFunction(() => document.querySelector('.cards .room-card')?.getAttribute('data-room') === 'b-east/r1');
    await page.waitForFunction(() => document.querySelector('.room-card[data-room="b-east/r1"] .tgroup .lrow.l')?.getAttribute('data-device') === 'b-m3');
    expect(page.url()).toContain('sort=load');
    await page.screenshot({ path: await screenshotPath('overview-overload-sorted'), fullPage: true });
    // abnormal only: the overloaded line stays, a normal line goes
    await page.check('input.abn');
    await page.waitForSelector(`${row}:not([hidden])`);
    expect(await page.isHidden('.lrow[data-device="b-m2"]')).toBe(true);
    await page.uncheck('input.abn');
    rig.sim.clearOverride(UNIT['b-m3']);
    await page.waitForSelector(`${row} .bar:not([data-class="over"])`, { timeout: 15_000 });
  });

  it('search narrows the overview to what matches', async () => {
    await page.fill('input.search', '工业园');
    await page.waitForSelector('.room-card[data-room="b-east/r1"]', { state: 'hidden' });
    expect(await page.isVisible('.room-card[data-room="b-west/r2"]')).toBe(true);
    expect(page.url()).toContain('q=');
    await page.fill('input.search', '没有这个');
    await page.waitForSelector('.overview .empty:not([hidden])');
    await page.fill('input.search', '');
    await page.waitForSelector('.room-card[data-room="b-east/r1"]', { state: 'visible' });
  });

  it('room view: every line with load rate, per-phase current and voltage; transformer and sensors', async () => {
    await page.click('.room-card[data-room="b-east/r1"] a.consult');
    await page.waitForSelector('.view.room[data-room="b-east/r1"]');
    expect(page.url()).toContain('#/room/b-east/r1');
    for (const d of ['b-m2', 'b-m3', 'b-m4']) await page.waitForSelector(`table.lines tr[data-device="${d}"].q-good`, { timeout: 10_000 });
    for (const q of ['ia', 'ib', 'ic', 'ua', 'ub', 'uc']) expect(Number(await text(`tr[data-device="b-m2"] .v[data-q="${q}"]`))).toBeGreaterThan(0);
    expect(await page.$eval('tr[data-device="b-m2"] .v[data-q="ib"]', (e) => getComputedStyle(e).color)).toBe(PHASE_RGB.b);
    await page.waitForSelector('.tr-panel[data-device="b-m1"].q-good');
    expect(await text('.tr-panel[data-device="b-m1"] .pct.big')).toMatch(/\d+\.\d%/);
    // temperatures and room sensors from the MQTT sensor
    await page.waitForSelector('.sensor[data-device="b-env1"].q-good', { timeout: 10_000 });
    expect(await text('.tile[data-q="door"] .v')).toBe('关闭');
    expect(await text('.tile[data-q="water"] .v')).toBe('正常');
    expect(Number(await text('.tile[data-q="humidity"] .v'))).toBeGreaterThan(50);
    expect(Number(await text('.tr-panel .v[data-q="t_oil"]'))).toBeGreaterThan(55);
    await page.screenshot({ path: await screenshotPath('room'), fullPage: true });
    // a room with no sensors says so
    await page.goto(`${base}/#/room/b-west/r2`);
    await page.waitForSelector('.view.room[data-room="b-west/r2"] .no-sensors:has-text("无传感器")');
    await page.waitForSelector('tr[data-device="b-m6"].q-good');
    expect(await text('tr[data-line="l5"]')).toContain('无表计');
    await page.screenshot({ path: await screenshotPath('room-no-sensors'), fullPage: true });
    // a deep link to a room that does not exist says so
    await page.goto(`${base}/#/room/b-west/no-such-room`);
    await page.waitForSelector('.view.room.missing .empty:has-text("找不到该配电房")');
  });

  it('a dead meter turns to comm loss in the room view: greyed, with its age, never live', async () => {
    await page.goto(`${base}/#/room/b-east/r1`);
    await page.waitForSelector('tr[data-device="b-m4"].q-good', { timeout: 10_000 });
    rig.sim.setDead(UNIT['b-m4'], true);
    const row = 'tr[data-device="b-m4"]';
    await page.waitForSelector(`${row}.q-comm_loss`, { timeout: 15_000 });
    const state = await text(`${row} .fresh`);
    expect(state).toContain('通信中断');
    expect(state).toMatch(/\d+ 秒前/);
    // the last values are there to read, greyed; the bar is grey too
    expect(Number(await text(`${row} .v[data-q="ia"]`))).toBeGreaterThan(0);
    expect(Number(await page.$eval(`${row} .v[data-q="ia"]`, (e) => getComputedStyle(e).opacity))).toBeLessThan(1);
    // grey, not the phase colour a live value has
    expect(await page.$eval(`${row} .v[data-q="ia"]`, (e) => getComputedStyle(e).color)).toBe(MUTED_RGB);
    expect(await page.$eval(`${row} .bar`, (e) => e.classList.contains('not-live'))).toBe(true);
    // the others stay live
    expect(await page.getAttribute('tr[data-device="b-m2"]', 'class')).toContain('q-good');
    await page.screenshot({ path: await screenshotPath('room-comm-loss'), fullPage: true });
    // and in the overview the room shows a comm-loss count
    await page.click('nav a[data-nav="overview"]');
    await page.waitForSelector('.lrow[data-device="b-m4"].q-comm_loss');
    expect(await page.$eval('.lrow[data-device="b-m4"] .cur .pa', (e) => getComputedStyle(e).color)).toBe(MUTED_RGB);
    expect(await text('.room-card[data-room="b-east/r1"] .b-comm')).toContain('通信中断 1');
    rig.sim.setDead(UNIT['b-m4'], false);
    await page.waitForSelector('.lrow[data-device="b-m4"].q-good', { timeout: 15_000 });
  });

  it('live charts: uPlot canvases whose series get points from the WebSocket, phase colours, longer windows from history', async () => {
    await page.goto(`${base}/#/charts?d=b-m1,b-m2&q=ia,ib,ic,ua&w=15m`);
    await page.waitForSelector('.chart[data-state="live"] canvas');
    expect(await page.locator('.chart').count()).toBe(2); // A and V never share an axis
    const amps = page.locator('.chart[data-unit="A"]');
    expect(await amps.getAttribute('data-series')).toBe('6');
    const points = async () => Number(await amps.getAttribute('data-points'));
    await page.waitForFunction(() => Number(document.querySelector('.chart[data-unit="A"]')?.getAttribute('data-points')) > 0, null, { timeout: 10_000 });
    const before = await points();
    await page.waitForFunction((n) => Number(document.querySelector('.chart[data-unit="A"]')?.getAttribute('data-points')) > n + 4, before, { timeout: 10_000 });
    // legend markers carry the phase colours: Ia yellow, Ib green, Ic red
    const markers = await amps.locator('.u-legend .u-series .u-marker').evaluateAll((els) => els.map((e) => getComputedStyle(e).borderColor));
    expect(markers.slice(1, 4)).toEqual([PHASE_RGB.a, PHASE_RGB.b, PHASE_RGB.c]);
    await page.screenshot({ path: await screenshotPath('charts'), fullPage: true });
    // zoom out: history from the API
    await page.click('.windows button[data-w="1h"]');
    await page.waitForSelector('.chart[data-state="live"]');
    expect(page.url()).toContain('w=1h');
    expect(await points()).toBeGreaterThan(0);
    await page.click('.windows button[data-w="7d"]');
    await page.waitForFunction(() => Number(document.querySelector('.chart[data-unit="A"]')?.getAttribute('data-step')) > 0 && document.querySelector('.chart[data-unit="A"]')?.getAttribute('data-state') === 'live');
    expect(Number(await amps.getAttribute('data-step'))).toBeGreaterThanOrEqual(300_000); // ~2,000 buckets over 7 days
    await page.click('.windows button[data-w="15m"]');
    await page.waitForSelector('.chart[data-unit="A"][data-state="live"][data-step="0"]');
    // drag to zoom in: live pauses, the range is loaded from history; double-click goes back to live
    const over = amps.locator('.u-over');
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.8, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.waitForSelector('.chart[data-unit="A"][data-state="paused"] button.resume:not([hidden])');
    expect(await points()).toBeGreaterThan(0);
    await page.screenshot({ path: await screenshotPath('charts-zoomed'), fullPage: true });
    await over.dblclick();
    await page.waitForSelector('.chart[data-unit="A"][data-state="live"] button.resume[hidden]', { state: 'attached' });
  });

  it('room view: the last hours on demand as charts', async () => {
    await page.goto(`${base}/#/room/b-east/r1`);
    await page.waitForSelector('tr[data-device="b-m2"].q-good');
    await page.click('.history button[data-h="1"]');
    await page.waitForSelector('.history .chart[data-state="live"] canvas');
    expect(await page.locator('.history .chart').count()).toBe(3);
    await page.waitForFunction(() => [...document.querySelectorAll('.history .chart')].every((c) => Number(c.getAttribute('data-points')) > 0), null, { timeout: 10_000 });
    expect(page.url()).toContain('h=1');
    await page.screenshot({ path: await screenshotPath('room-history'), fullPage: true });
  });

  it('English labels on demand, and back', async () => {
    await page.goto(`${base}/#/overview`);
    await page.waitForSelector('.lrow[data-device="b-m2"].q-good');
    await page.click('#lang');
    await page.waitForSelector('nav a[data-nav="overview"]:has-text("Overview")');
    expect(await text('#conn')).toContain('Live');
    expect(await text('#who')).toContain('viewer');
    expect(await text('.summary')).toContain('transformers');
    await page.screenshot({ path: await screenshotPath('overview-en'), fullPage: true });
    await page.click('#lang');
    await page.waitForSelector('nav a[data-nav="overview"]:has-text("总览")');
  });

  it('an operator sees their role; signing out returns to the form', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await ctx.newPage();
    await loginPage(p, base, 'operator', TEST_PASSWORD, '#/room/b-west/r2');
    expect(await p.textContent('#who')).toBe('operator（调度员）');
    // a deep link survives the login
    await p.waitForSelector('.view.room[data-room="b-west/r2"]');
    await p.click('#logout');
    await p.waitForSelector('#login:not([hidden])');
    expect(await p.getAttribute('#conn', 'data-state')).toBe('logged-out');
    await ctx.close();
  });
});
