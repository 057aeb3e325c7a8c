/**
 * The alarm console and the one-key call in real Chromium against the rig
 * with a test rules file: a water alarm raised by the room sensor appears in
 * the console; an operator acknowledges it from the page, and the server
 * (REST) and a second open page show it acknowledged; a viewer gets no
 * buttons and a 403 on a direct acknowledge; a one-key call published on the
 * broker shows in the console and the room view and is taken by one operator.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { callTopic } from '../../contract/index.ts';
import { freePort, launchChromium, loginPage, screenshotPath } from '../support/browser.ts';
import { TEST_PASSWORD } from '../support/server.ts';
import { startRig, type Rig } from './rig.ts';

const RULES = `
version: 1
useDefaults: true
rules:
  - id: comm-loss
    enabled: false
  - id: call
    activeS: 60
  - id: b-water
    name: 配电房进水 (test)
    kind: threshold
    scope: { site: b-east }
    quantity: water
    onDelayS: 1
    levels: { hi: { value: 0.5, severity: high } }
`;

let rig: Rig;
let browser: Browser;
let op: Page;
let op2: Page;
let viewer: Page;
let base: string;

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'gw-b-alarms-'));
  const file = path.join(dir, 'rules.yaml');
  await writeFile(file, RULES);
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const serverExtra = { http: { host: '127.0.0.1', port: httpPort }, mqtt: { embedded: { host: '127.0.0.1', port: mqttPort } }, rules: { file }, alarms: { tickMs: 100, persistIntervalMs: 500 } };
  [rig, browser] = await Promise.all([startRig({ serverExtra }), launchChromium()]);
  base = rig.server.server.url;
  const page = () => browser.newPage({ viewport: { width: 1440, height: 900 } });
  [op, op2, viewer] = await Promise.all([page(), page(), page()]);
  await Promise.all([
    loginPage(op, base, 'operator', TEST_PASSWORD, '#/alarms'),
    loginPage(op2, base, 'operator', TEST_PASSWORD, '#/alarms'),
    loginPage(viewer, base, 'viewer', TEST_PASSWORD, '#/alarms'),
  ]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rig?.stop();
});

interface ApiAlarm {
  alarmId: string;
  state: string;
  acknowledged: { by: string; comment?: string } | null;
}
const alarmsOf = async (rule: string): Promise<ApiAlarm[]> => {
  const res = await rig.server.fetch(`/api/alarms?rule=${rule}`, { role: 'viewer' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { alarms: ApiAlarm[] }).alarms;
};
const row = (id: string) => `.alarms-table tr[data-alarm="${id}"]`;

describe('alarm console in Chromium', () => {
  let waterId = '';

  it('a limit crossed at the room sensor appears in the console, with severity, source, value and limit; title count and beep', async () => {
    rig.sensorOverride.water = 1;
    const sel = '.alarms-table tr[data-alarm*="b-water"]';
    await op.waitForSelector(sel, { timeout: 15_000 });
    waterId = (await op.getAttribute(sel, 'data-alarm'))!;
    const text = (await op.textContent(row(waterId)))!;
    expect(text).toContain('重要');
    expect(text).toContain('未确认');
    expect(text).toContain('锦绣花园配电房');
    expect(text).toMatch(/1 \/ 0\.5/);
    expect(await op.title()).toMatch(/^\(\d+\) /);
    expect(Number(await op.evaluate(() => document.body.dataset.beeps ?? '0'))).toBeGreaterThan(0);
    await viewer.waitForSelector(row(waterId));
    await op2.waitForSelector(row(waterId));
  });

  it('a viewer is offered no acknowledge, and a direct REST acknowledge as viewer is refused with 403', async () => {
    expect(await viewer.$$(`${row(waterId)} button[data-act="ack"]`)).toHaveLength(0);
    expect(await viewer.$$(`.alarms-table button[data-act="ack"], .alarms-table button[data-act="shelve"], .alarms-table button[data-act="comment"]`)).toHaveLength(0);
    expect(await viewer.$$(`${row(waterId)} button[data-act="history"]`)).toHaveLength(1);
    const res = await rig.server.fetch(`/api/alarms/${encodeURIComponent(waterId)}/acknowledge`, { role: 'viewer', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(403);
    expect((await alarmsOf('b-water'))[0]!.state).toBe('unack_active');
  });

  it('an operator acknowledges from the page with a comment; the server and another page show it acknowledged; history lists it', async () => {
    await op.click(`${row(waterId)} button[data-act="ack"]`);
    await op.fill('form[data-form="ack"] input[name="text"]', '已通知现场排水');
    await op.screenshot({ path: await screenshotPath('alarms-ack-form'), fullPage: true });
    await op.click('form[data-form="ack"] button[type="submit"]');
    await op.waitForSelector(`${row(waterId)}[data-state="ack_active"]`);
    const [a] = await alarmsOf('b-water');
    expect(a).toMatchObject({ state: 'ack_active', acknowledged: { by: 'operator', comment: '已通知现场排水' } });
    await op2.waitForSelector(`${row(waterId)}[data-state="ack_active"]`, { timeout: 5_000 });
    expect(await op2.textContent(row(waterId))).toContain('已通知现场排水');
    await viewer.waitForSelector(`${row(waterId)}[data-state="ack_active"]`, { timeout: 5_000 });
    await op.click(`${row(waterId)} button[data-act="history"]`);
    await op.waitForSelector('.alarm-side ol.hist li:has-text("已确认")', { timeout: 10_000 });
    await op.screenshot({ path: await screenshotPath('alarms-console'), fullPage: true });
  });

  it('a one-key call appears in the console and the room view, is taken by one operator, and others see it taken', async () => {
    const room = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await loginPage(room, base, 'operator', TEST_PASSWORD, '#/room/b-east/r1');
    const client = await mqtt.connectAsync(rig.server.server.mqttUrl, { clientId: `b-caller-${process.pid}` });
    await client.publishAsync(callTopic('b-east'), JSON.stringify({ from: 'site electrician' }), { qos: 1 });
    await client.endAsync();
    const callSel = '.alarms-table tr.is-call';
    await op2.waitForSelector(callSel, { timeout: 10_000 });
    const callId = (await op2.getAttribute(callSel, 'data-alarm'))!;
    await room.waitForSelector(`.call-card[data-alarm="${callId}"] button[data-act="take"]`, { timeout: 10_000 });
    await viewer.waitForSelector(row(callId));
    expect(await viewer.$$(`${row(callId)} button[data-act="ack"]`)).toHaveLength(0);
    // the call sorts on top (critical, newest)
    expect(await op2.getAttribute('.alarms-table tbody tr:first-child', 'data-alarm')).toBe(callId);
    await room.screenshot({ path: await screenshotPath('room-call'), fullPage: true });
    await op2.screenshot({ path: await screenshotPath('alarms-call'), fullPage: true });
    await room.click(`.call-card[data-alarm="${callId}"] button[data-act="take"]`);
    await room.waitForSelector(`.call-card.taken[data-alarm="${callId}"]:has-text("operator")`);
    await op2.waitForSelector(`${row(callId)}[data-state="ack_active"]`, { timeout: 5_000 });
    expect(await op2.$$(`${row(callId)} button[data-act="ack"]`)).toHaveLength(0);
    const calls = await alarmsOf('call');
    expect(calls.find((c) => c.alarmId === callId)).toMatchObject({ state: 'ack_active', acknowledged: { by: 'operator' } });
    // a second take is refused by the server (the call is already taken)
    const again = await rig.server.fetch(`/api/alarms/${encodeURIComponent(callId)}/acknowledge`, { role: 'operator', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(again.status).toBeGreaterThanOrEqual(400);
    await room.screenshot({ path: await screenshotPath('room-call-taken'), fullPage: true });
    // the overview counts by severity
    await op.goto(`${base}/#/overview`);
    await op.waitForSelector('.summary [data-k="alarms"][data-counts]');
    expect(await op.textContent('.summary [data-k="alarms"]')).toMatch(/紧急 \d+ · 重要 [1-9]/);
    await op.waitForSelector('.room-card[data-room="b-east/r1"] .room-alarm-badge:not([hidden]) .sev-1');
    await op.screenshot({ path: await screenshotPath('overview-alarms'), fullPage: false });
    await room.close();
  });

  it('an operator shelves from the page with a reason and an expiry; the server shows it shelved', async () => {
    await op.goto(`${base}/#/alarms`);
    await op.click(`${row(waterId)} button[data-act="shelve"]`);
    await op.selectOption('form[data-form="shelve"] select[name="for"]', String(15 * 60));
    await op.fill('form[data-form="shelve"] input[name="text"]', '排水泵检修中');
    await op.click('form[data-form="shelve"] button[type="submit"]');
    await op.waitForSelector(`${row(waterId)}[data-state="shelved"] button[data-act="unshelve"]`);
    const [a] = (await alarmsOf('b-water')) as Array<ApiAlarm & { shelf: { reason: string; until: number } }>;
    expect(a!.state).toBe('shelved');
    expect(a!.shelf.reason).toBe('排水泵检修中');
    expect(a!.shelf.until - Date.now()).toBeGreaterThan(14 * 60_000);
    await op2.waitForSelector(`${row(waterId)}[data-state="shelved"]`, { timeout: 5_000 });
  });

  it('after a server restart the pages resync the alarm set and apply new frames', async () => {
    await new Promise((r) => setTimeout(r, 700)); // let the service persist its state
    await rig.restartServer(1000);
    await op2.waitForSelector('#conn[data-state="open"]', { timeout: 20_000 });
    await op2.waitForSelector(`${row(waterId)}[data-state="shelved"]`, { timeout: 10_000 });
    const res = await rig.server.fetch(`/api/alarms/${encodeURIComponent(waterId)}/unshelve`, { role: 'operator', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    await op2.waitForSelector(`${row(waterId)}:not([data-state="shelved"])`, { timeout: 5_000 });
  });
});
