/**
 * The alarm console and the one-key call in real Chromium against the rig
 * with a test rules file: an overload injected into the running Modbus meter
 * simulator through its control API (an overload ramp, as a tester would
 * switch it on) is polled by the edge agent, and the line-load alarm it
 * raises appears in the console; an operator acknowledges it from the page,
 * and the server (REST) and a second open page show it acknowledged; a viewer
 * gets no buttons and a 403 on a direct acknowledge; a one-key call published
 * on the broker (with room, caller and message) shows in the console and the
 * room view and is taken by exactly one of two operators pressing at once;
 * shelving, resync after a server restart; an admin (only) takes the alarm
 * out of service and back; once cleared, the alarm is found by the history
 * query and its own history lists every step.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { callTopic } from '../../contract/index.ts';
import { startControlServer, type ControlServer } from '../../simulators/index.ts';
import { freePort, launchChromium, loginPage, screenshotPath } from '../support/browser.ts';
import { TEST_PASSWORD } from '../support/server.ts';
import { startRig, UNIT, type Rig } from './rig.ts';

const RULES = `
version: 1
useDefaults: true
rules:
  - id: comm-loss
    enabled: false
  - id: call
    activeS: 60
  # the State Grid heavy-load / overload limits on the outgoing lines, with
  # the 2-h on-delay of the default cut to 1 s so the test does not wait
  - id: b-line-load
    name: 出线重载/过载 (test)
    kind: threshold
    scope: { site: b-east, role: line }
    quantity: load_rate
    deadband: 5
    onDelayS: 1
    offDelayS: 1
    levels: { hi: { value: 80, severity: medium }, hihi: { value: 100, severity: high } }
`;

let rig: Rig;
let browser: Browser;
let op: Page;
let op2: Page;
let viewer: Page;
let admin: Page;
let base: string;
let control: ControlServer;

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'gw-b-alarms-'));
  const file = path.join(dir, 'rules.yaml');
  await writeFile(file, RULES);
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const serverExtra = { http: { host: '127.0.0.1', port: httpPort }, mqtt: { embedded: { host: '127.0.0.1', port: mqttPort } }, rules: { file }, alarms: { tickMs: 100, persistIntervalMs: 500 } };
  [rig, browser] = await Promise.all([startRig({ serverExtra }), launchChromium()]);
  // the simulator's run-time fault switch, as a tester drives a running simulator process
  control = await startControlServer({ gateways: new Map([['b-gw', rig.sim]]) }, { port: 0 });
  base = rig.server.server.url;
  const page = () => browser.newPage({ viewport: { width: 1440, height: 900 } });
  [op, op2, viewer, admin] = await Promise.all([page(), page(), page(), page()]);
  await Promise.all([
    loginPage(op, base, 'operator', TEST_PASSWORD, '#/alarms'),
    loginPage(op2, base, 'operator', TEST_PASSWORD, '#/alarms'),
    loginPage(viewer, base, 'viewer', TEST_PASSWORD, '#/alarms'),
    loginPage(admin, base, 'admin', TEST_PASSWORD, '#/alarms'),
  ]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await control?.stop();
  await rig?.stop();
});

/** the simulator's control API: POST or DELETE a fault of one unit */
const fault = async (method: 'POST' | 'DELETE', unit: number, body?: object): Promise<void> => {
  const res = await fetch(`${control.url}/gateways/b-gw/units/${unit}/faults`, { method, ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  expect(res.status).toBe(204);
};

interface ApiAlarm {
  alarmId: string;
  state: string;
  severity: number;
  level: string | null;
  acknowledged: { by: string; comment?: string } | null;
  outOfService?: { by: string; reason: string } | null;
}
const alarmsOf = async (rule: string, state = ''): Promise<ApiAlarm[]> => {
  const res = await rig.server.fetch(`/api/alarms?rule=${rule}${state ? `&state=${state}` : ''}`, { role: 'viewer' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { alarms: ApiAlarm[] }).alarms;
};
const row = (id: string) => `.alarms-table tr[data-alarm="${id}"]`;

const post = (id: string, op: string, role: 'viewer' | 'operator' | 'admin', body: object = {}) =>
  rig.server.fetch(`/api/alarms/${encodeURIComponent(id)}/${op}`, { role, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('alarm console in Chromium', () => {
  let loadId = '';

  it('an overload injected in the Modbus simulator is polled by the agent and its alarm appears in the console: severity, source, value and limit; title count and beep', async () => {
    // 商铺出线 (b-m4) is rated 63 A; ten times its load is over 100 % at any hour of the load curve
    await fault('POST', UNIT['b-m4'], { fault: { kind: 'overload', factor: 10, rampS: 3 } });
    const sel = '.alarms-table tr[data-alarm*="b-line-load"]';
    // the ramp passes heavy load (80 %, medium) on its way to overload (100 %, high)
    await op.waitForSelector(`${sel}.sev-2`, { timeout: 20_000 });
    loadId = (await op.getAttribute(sel, 'data-alarm'))!;
    const text = (await op.textContent(row(loadId)))!;
    expect(text).toContain('重要');
    expect(text).toContain('未确认');
    expect(text).toContain('锦绣花园配电房');
    expect(text).toContain('商铺出线');
    expect(text).toContain('高高限');
    expect(text).toMatch(/\d+(\.\d+)? \/ 100/);
    const [a] = await alarmsOf('b-line-load');
    expect(a).toMatchObject({ alarmId: loadId, state: 'unack_active', severity: 2, level: 'hihi' });
    expect(await op.title()).toMatch(/^\(\d+\) /);
    expect(Number(await op.evaluate(() => document.body.dataset.beeps ?? '0'))).toBeGreaterThan(0);
    await viewer.waitForSelector(row(loadId));
    await op2.waitForSelector(row(loadId));
    await op.screenshot({ path: await screenshotPath('alarms-overload'), fullPage: true });
  });

  it('a viewer is offered no acknowledge, and a direct REST acknowledge as viewer is refused with 403', async () => {
    expect(await viewer.$$(`${row(loadId)} button[data-act="ack"]`)).toHaveLength(0);
    expect(await viewer.$$(`.alarms-table button[data-act="ack"], .alarms-table button[data-act="shelve"], .alarms-table button[data-act="comment"], .alarms-table button[data-act="oos"]`)).toHaveLength(0);
    expect(await viewer.$$(`${row(loadId)} button[data-act="history"]`)).toHaveLength(1);
    const res = await post(loadId, 'acknowledge', 'viewer');
    expect(res.status).toBe(403);
    expect((await alarmsOf('b-line-load'))[0]!.state).toBe('unack_active');
  });

  it('an operator acknowledges from the page with a comment; the server and another page show it acknowledged; history lists it', async () => {
    await op.click(`${row(loadId)} button[data-act="ack"]`);
    await op.fill('form[data-form="ack"] input[name="text"]', '已通知现场减载');
    await op.screenshot({ path: await screenshotPath('alarms-ack-form'), fullPage: true });
    await op.click('form[data-form="ack"] button[type="submit"]');
    await op.waitForSelector(`${row(loadId)}[data-state="ack_active"]`);
    const [a] = await alarmsOf('b-line-load');
    expect(a).toMatchObject({ state: 'ack_active', acknowledged: { by: 'operator', comment: '已通知现场减载' } });
    await op2.waitForSelector(`${row(loadId)}[data-state="ack_active"]`, { timeout: 5_000 });
    expect(await op2.textContent(row(loadId))).toContain('已通知现场减载');
    await viewer.waitForSelector(`${row(loadId)}[data-state="ack_active"]`, { timeout: 5_000 });
    await op.click(`${row(loadId)} button[data-act="history"]`);
    await op.waitForSelector('.alarm-side ol.hist li:has-text("已确认")', { timeout: 10_000 });
    expect(op.url()).toContain(`alarm=${encodeURIComponent(loadId)}`);
    await op.screenshot({ path: await screenshotPath('alarms-console'), fullPage: true });
    await op.click('.alarm-side button[data-act="close"]');
  });

  it('a one-key call with room, caller and message appears in the console and the room view; of two operators pressing at once exactly one takes it; a bare press shows too', async () => {
    const [room, room2] = await Promise.all([browser.newPage({ viewport: { width: 1440, height: 900 } }), browser.newPage({ viewport: { width: 1440, height: 900 } })]);
    await Promise.all([loginPage(room, base, 'operator', TEST_PASSWORD, '#/room/b-east/r1'), loginPage(room2, base, 'admin', TEST_PASSWORD, '#/room/b-east/r1')]);
    // a site's call box is an agent of its site on the broker
    const client = await mqtt.connectAsync(rig.server.server.mqttUrl, await rig.server.mqttAgent('b-caller', 'b-east'));
    await client.publishAsync(callTopic('b-east'), JSON.stringify({ room: 'r1', caller: { name: '张师傅', phone: '+86 138 0000 0000' }, message: '2号柜有异响' }), { qos: 1 });
    await client.endAsync();
    const callSel = '.alarms-table tr.is-call';
    await op2.waitForSelector(callSel, { timeout: 10_000 });
    const callId = (await op2.getAttribute(callSel, 'data-alarm'))!;
    const card = `.call-card[data-alarm="${callId}"]`;
    await Promise.all([room.waitForSelector(`${card} button[data-act="take"]`, { timeout: 10_000 }), room2.waitForSelector(`${card} button[data-act="take"]`, { timeout: 10_000 })]);
    await viewer.waitForSelector(row(callId));
    expect(await viewer.$$(`${row(callId)} button[data-act="ack"]`)).toHaveLength(0);
    // the call sorts on top (critical, newest)
    expect(await op2.getAttribute('.alarms-table tbody tr:first-child', 'data-alarm')).toBe(callId);
    // room, caller (name and phone) and message are shown
    const cardText = (await room.textContent(card))!;
    const rowText = (await op2.textContent(row(callId)))!;
    expect(cardText).toContain('城东供电所');
    expect(cardText).toContain('张师傅 (+86 138 0000 0000)');
    for (const s of [cardText, rowText]) {
      expect(s).not.toMatch(/undefined|null|\[object/);
      expect(s).toContain('张师傅');
      expect(s).toContain('2号柜有异响');
      expect(s).toContain('锦绣花园配电房');
    }
    await room.screenshot({ path: await screenshotPath('room-call'), fullPage: true });
    await op2.screenshot({ path: await screenshotPath('alarms-call'), fullPage: true });
    // two operators press 接听 at the same moment: the server lets exactly one take it
    const answers: number[] = [];
    for (const p of [room, room2])
      p.on('response', (r) => {
        if (r.url().includes('/acknowledge') && r.request().method() === 'POST') answers.push(r.status());
      });
    const take = (p: Page) =>
      p.evaluate((sel) => {
        const b = document.querySelector<HTMLButtonElement>(sel);
        b?.click();
        return !!b;
      }, `${card} button[data-act="take"]`);
    const pressed = (await Promise.all([take(room), take(room2)])).filter(Boolean).length;
    expect(pressed).toBeGreaterThanOrEqual(1);
    await op2.waitForSelector(`${row(callId)}[data-state="ack_active"]`, { timeout: 5_000 });
    const taken = (await alarmsOf('call')).find((c) => c.alarmId === callId)!;
    expect(taken.state).toBe('ack_active');
    const winner = taken.acknowledged!.by;
    expect(['operator', 'admin']).toContain(winner);
    await Promise.all([room, room2].map((p) => p.waitForSelector(`.call-card.taken[data-alarm="${callId}"]:has-text("${winner}")`, { timeout: 5_000 })));
    await expect.poll(() => answers.length, { timeout: 5_000 }).toBe(pressed);
    expect(answers.filter((s) => s === 200)).toHaveLength(1);
    expect(await op2.$$(`${row(callId)} button[data-act="ack"]`)).toHaveLength(0);
    // a later take is refused by the server too
    expect((await post(callId, 'acknowledge', 'operator')).status).toBeGreaterThanOrEqual(400);
    await room.screenshot({ path: await screenshotPath('room-call-taken'), fullPage: true });
    // the overview counts by severity
    await op.goto(`${base}/#/overview`);
    await op.waitForSelector('.summary [data-k="alarms"][data-counts]');
    expect(await op.textContent('.summary [data-k="alarms"]')).toMatch(/紧急 \d+ · 重要 [1-9]/);
    await op.waitForSelector('.room-card[data-room="b-east/r1"] .room-alarm-badge:not([hidden]) .sev-1');
    await op.screenshot({ path: await screenshotPath('overview-alarms'), fullPage: false });
    // a bare press (an older site: no JSON at all) still shows, named by its site, with nothing made up
    const bare = await mqtt.connectAsync(rig.server.server.mqttUrl, await rig.server.mqttAgent('b-caller2', 'b-west'));
    await bare.publishAsync(callTopic('b-west'), 'press', { qos: 1 });
    await bare.endAsync();
    const bareSel = '.alarms-table tr.is-call[data-alarm*="b-west"]';
    await op2.waitForSelector(bareSel, { timeout: 10_000 });
    const bareText = (await op2.textContent(bareSel))!;
    expect(bareText).toContain('城西供电所');
    expect(bareText).not.toMatch(/undefined|null|\[object|“/);
    await Promise.all([room.close(), room2.close()]);
  });

  it('an operator shelves from the page with a reason and an expiry; the server shows it shelved', async () => {
    await op.goto(`${base}/#/alarms`);
    await op.click(`${row(loadId)} button[data-act="shelve"]`);
    await op.selectOption('form[data-form="shelve"] select[name="for"]', String(15 * 60));
    await op.fill('form[data-form="shelve"] input[name="text"]', '负荷转供中');
    await op.click('form[data-form="shelve"] button[type="submit"]');
    await op.waitForSelector(`${row(loadId)}[data-state="shelved"] button[data-act="unshelve"]`);
    const [a] = (await alarmsOf('b-line-load')) as Array<ApiAlarm & { shelf: { reason: string; until: number } }>;
    expect(a!.state).toBe('shelved');
    expect(a!.shelf.reason).toBe('负荷转供中');
    expect(a!.shelf.until - Date.now()).toBeGreaterThan(14 * 60_000);
    await op2.waitForSelector(`${row(loadId)}[data-state="shelved"]`, { timeout: 5_000 });
  });

  it('after a server restart the pages resync the alarm set and apply new frames', async () => {
    await new Promise((r) => setTimeout(r, 700)); // let the service persist its state
    await rig.restartServer(1000);
    await op2.waitForSelector('#conn[data-state="open"]', { timeout: 20_000 });
    await op2.waitForSelector(`${row(loadId)}[data-state="shelved"]`, { timeout: 10_000 });
    expect((await post(loadId, 'unshelve', 'operator')).status).toBe(200);
    await op2.waitForSelector(`${row(loadId)}:not([data-state="shelved"])`, { timeout: 5_000 });
  });

  it('only an admin is offered out of service; the admin removes the alarm from service with a reason and returns it', async () => {
    await admin.waitForSelector('#conn[data-state="open"]', { timeout: 20_000 });
    await admin.waitForSelector(`${row(loadId)}:not([data-state="shelved"]) button[data-act="oos"]`, { timeout: 10_000 });
    for (const p of [op2, viewer]) expect(await p.$$('.alarms-table button[data-act="oos"], .alarms-table button[data-act="ris"]')).toHaveLength(0);
    await admin.click(`${row(loadId)} button[data-act="oos"]`);
    await admin.fill('form[data-form="oos"] input[name="text"]', '线路检修，告警停用');
    await admin.click('form[data-form="oos"] button[type="submit"]');
    await admin.waitForSelector(`${row(loadId)}[data-state="out_of_service"] button[data-act="ris"]`);
    const [a] = await alarmsOf('b-line-load');
    expect(a).toMatchObject({ state: 'out_of_service', outOfService: { by: 'admin', reason: '线路检修，告警停用' } });
    await op2.waitForSelector(`${row(loadId)}[data-state="out_of_service"]`, { timeout: 5_000 });
    expect(await op2.textContent(row(loadId))).toContain('停用');
    expect(await op2.$$(`${row(loadId)} button[data-act="ris"]`)).toHaveLength(0);
    // an operator's direct call is refused
    expect((await post(loadId, 'return-to-service', 'operator')).status).toBe(403);
    await admin.screenshot({ path: await screenshotPath('alarms-out-of-service'), fullPage: true });
    await admin.click(`${row(loadId)} button[data-act="ris"]`);
    await admin.fill('form[data-form="ris"] input[name="text"]', '检修完毕');
    await admin.click('form[data-form="ris"] button[type="submit"]');
    await admin.waitForSelector(`${row(loadId)}:not([data-state="out_of_service"]) button[data-act="oos"]`);
    expect((await alarmsOf('b-line-load'))[0]!.state).not.toBe('out_of_service');
    await op2.waitForSelector(`${row(loadId)}:not([data-state="out_of_service"])`, { timeout: 5_000 });
  });

  it('once cleared the alarm leaves the standing set; the history query finds it by state, severity, site and time, and its history lists every step', async () => {
    await fault('DELETE', UNIT['b-m4']);
    // cleared: an acknowledged alarm goes to normal, an unacknowledged one waits for its acknowledgement
    await expect.poll(async () => (await alarmsOf('b-line-load', 'all')).find((a) => a.alarmId === loadId)?.state, { timeout: 20_000, interval: 250 }).toMatch(/^(normal|unack_rtn)$/);
    if ((await alarmsOf('b-line-load', 'all')).find((a) => a.alarmId === loadId)!.state === 'unack_rtn') expect((await post(loadId, 'acknowledge', 'operator')).status).toBe(200);
    await op.waitForSelector(row(loadId), { state: 'detached', timeout: 10_000 });
    // history: cleared alarms of 城东供电所, high or worse, changed in the last hour
    await op.click('.modeseg button[data-mode="hist"]');
    await op.selectOption('form[data-form="history"] select[name="state"]', 'normal');
    await op.selectOption('form[data-form="history"] select[name="site"]', 'b-east');
    await op.selectOption('form[data-form="history"] select[name="severity"]', '2');
    await op.selectOption('form[data-form="history"] select[name="window"]', '1h');
    await op.click('form[data-form="history"] button[type="submit"]');
    await op.waitForSelector(`${row(loadId)}[data-state="normal"]`, { timeout: 10_000 });
    expect(await op.textContent(row(loadId))).toContain('正常');
    expect(op.url()).toMatch(/mode=hist.*hst=normal.*hsite=b-east/);
    // the filters reach the server: critical only leaves the (high) line alarm out; the other site has none
    const queried = async (name: string, value: string) => {
      const n = Number(await op.getAttribute('.view.alarms', 'data-queries'));
      await op.selectOption(`form[data-form="history"] select[name="${name}"]`, value);
      await op.click('form[data-form="history"] button[type="submit"]');
      await op.waitForFunction((k) => Number(document.querySelector('.view.alarms')?.getAttribute('data-queries')) > k && document.querySelector('.view.alarms')?.getAttribute('data-query') === 'done', n);
    };
    await queried('severity', '1');
    expect(await op.$$(row(loadId))).toHaveLength(0);
    await queried('severity', '');
    await queried('site', 'b-west');
    expect(await op.$$(row(loadId))).toHaveLength(0);
    await queried('site', 'b-east');
    await op.waitForSelector(row(loadId));
    // one alarm's history: raised, acknowledged, shelved, out of service and back, cleared
    await op.click(`${row(loadId)} button[data-act="history"]`);
    for (const reason of ['raise', 'acknowledge', 'shelve', 'unshelve', 'remove_from_service', 'return_to_service', 'clear'])
      await op.waitForSelector(`.alarm-side ol.hist li[data-reason="${reason}"]`, { timeout: 10_000 });
    expect(await op.textContent('.alarm-side ol.hist')).toContain('线路检修，告警停用');
    expect(await op.textContent('.alarm-side .side-alarm')).toContain('商铺出线');
    await op.screenshot({ path: await screenshotPath('alarms-history'), fullPage: true });
    // English labels, and back
    await op.click('#lang');
    await op.waitForSelector('.alarms-table th:has-text("Severity")');
    await op.waitForSelector('.alarm-side ol.hist li[data-reason="remove_from_service"]:has-text("remove from service")');
    await op.screenshot({ path: await screenshotPath('alarms-history-en'), fullPage: true });
    await op.click('#lang');
    await op.waitForSelector('.alarms-table th:has-text("严重度")');
    // the history of one alarm is a deep link
    const p = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await loginPage(p, base, 'viewer', TEST_PASSWORD, `#/alarms?mode=hist&hw=1h&alarm=${encodeURIComponent(loadId)}`);
    await p.waitForSelector(`.alarm-side[data-alarm="${loadId}"] ol.hist li[data-reason="clear"]`, { timeout: 10_000 });
    await p.waitForSelector(`${row(loadId)}[data-state="normal"]`);
    await p.close();
  });
});
