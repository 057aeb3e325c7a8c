/**
 * Voltage quality and meter health in real Chromium against a real server
 * (embedded broker, DuckDB): the voltage qualification table of a known day
 * (1,380 of 1,440 minutes inside → 95.83 %, worst point first, the station
 * row, the CSV link), and in the room view the meter-health badge of a
 * meter whose phase A lost its voltage while current flows (失压, raised by
 * the built-in rule from live readings), and each transformer's available
 * capacity, also on the overview. Screenshots: test-artifacts/quality-*.png.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { readingsTopic } from '../../contract/index.ts';
import type { StoredReading } from '../../server/index.ts';
import { buildDashboard, launchChromium, loginPage, screenshotPath } from '../support/browser.ts';
import { TEST_PASSWORD, startTestServer, type TestServer } from '../support/server.ts';

const TOPOLOGY = `
sites:
  - id: vq-east
    name: 城东供电所
    rooms:
      - id: r1
        name: 锦绣花园配电房
        agent: vq-agent
        transformers:
          - id: t1
            name: 1#配变
            ratedKva: 400
            meter: vq-m1
            lines:
              - { id: l1, name: 1号楼出线, ratedCurrentA: 250, meter: vq-m2 }
`;
// the built-in 60-s on-delay of 失压 cut to 1 s so the test does not wait
const RULES = 'version: 1\nuseDefaults: true\nrules:\n  - { id: meter-voltage-loss, onDelayS: 1 }\n  - { id: comm-loss, enabled: false }\n';

const MIN = 60_000;
const DAY_MS = 86_400_000;
/** yesterday in China (UTC+8): its local midnight as epoch ms, and its date */
const localMidnight = Math.floor((Date.now() + 8 * 3_600_000) / DAY_MS) * DAY_MS - 8 * 3_600_000 - DAY_MS;
const DAY = new Date(localMidnight + 8 * 3_600_000).toISOString().slice(0, 10);

let ts: TestServer;
let browser: Browser;
let page: Page;
let dir = '';
let client: mqtt.MqttClient;
let timer: ReturnType<typeof setInterval> | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gw-b-quality-'));
  const file = path.join(dir, 'rules.yaml');
  await writeFile(file, RULES);
  const [dashboardDir, b] = await Promise.all([buildDashboard(), launchChromium()]);
  browser = b;
  ts = await startTestServer({ topologyYaml: TOPOLOGY, extra: { dashboardDir, rules: { file }, alarms: { tickMs: 200 } } });
  // yesterday: vq-m1 above the limit for 60 minutes, vq-m2 inside all day; and the transformer's load of the last hours
  const rows: StoredReading[] = [];
  const r = (device: string, t: number, v: StoredReading['v']): StoredReading => ({ site: 'vq-east', room: 'r1', transformer: 't1', line: device === 'vq-m1' ? '' : 'l1', device, ts: t, q: 'good', late: false, v });
  for (let m = 0; m < 1440; m++) {
    rows.push(r('vq-m1', localMidnight + m * MIN + 1000, { ua: m >= 480 && m < 540 ? 238 : 224, ub: 223, uc: 225 }));
    rows.push(r('vq-m2', localMidnight + m * MIN + 1000, { ua: 221, ub: 220, uc: 222 }));
  }
  for (let k = 1; k <= 8; k++) rows.push(r('vq-m1', Date.now() - k * 15 * MIN, { load_rate: 40 + 5 * k }));
  await ts.server.store.write(rows);
  // live: vq-m2's phase A voltage circuit open while its current flows
  client = await mqtt.connectAsync(ts.server.mqttUrl, await ts.mqttAgent('vq-agent', 'vq-east'));
  let seq = 0;
  const send = () => {
    const now = Date.now();
    const readings = [
      { device: 'vq-m1', ts: now, seq: ++seq, q: 'good', v: { ua: 224, ub: 223, uc: 225, ia: 120, ib: 118, ic: 121, p: 80 } },
      { device: 'vq-m2', ts: now, seq: ++seq, q: 'good', v: { ua: 31, ub: 220, uc: 222, ia: 40, ib: 38, ic: 41, p: 18 } },
    ];
    client.publish(readingsTopic('vq-east', 'vq-agent'), JSON.stringify({ agent: 'vq-agent', readings }), { qos: 1 });
  };
  send();
  timer = setInterval(send, 500);
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await loginPage(page, ts.server.url, 'viewer', TEST_PASSWORD, '#/overview');
}, 120_000);

afterAll(async () => {
  if (timer) clearInterval(timer);
  await client?.endAsync();
  await browser?.close();
  await ts?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('voltage quality in Chromium', () => {
  it('shows the day\'s qualification table: the point above the limit first at 95.83 %, the station row, a CSV link', async () => {
    await page.goto(`${ts.server.url}/#/quality?site=vq-east&day=${DAY}`);
    await page.waitForSelector(`.view.quality[data-loaded="vq-east/${DAY}"]`, { timeout: 20_000 });
    const rows = await page.$$eval('.vq-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    expect(rows.map((r) => [r[0], r[8]])).toEqual([
      ['vq-m1', '95.83%'],
      ['vq-m2', '100.00%'],
      ['全站', '97.92%'],
    ]);
    expect(rows[0]![2]).toBe('三相 380V (±7%)');
    expect(rows[0]![5]).toBe('60 分');
    // no outage that day: no minute left out of the monitored time
    expect(rows[0]![7]).toBe('0 分');
    expect(rows[0]![1]).toBe('锦绣花园配电房 / 1#配变');
    expect(await page.textContent('.vq-summary')).toContain('全站合格率 97.92%');
    const href = await page.getAttribute('.view.quality a.export-csv', 'href');
    expect(href).toContain(`quality/voltage.csv?site=vq-east&day=${DAY}&lang=zh`);
    const csv = await ts.fetch(href!.replace(/^\.\//, '/'));
    expect((await csv.text()).split('\n')[1]).toContain('vq-m1');
    await page.screenshot({ path: await screenshotPath('quality-table'), fullPage: true });
  });

  it('shows the meter-health badge of the meter with voltage loss, and the transformer\'s available capacity, in the room view', async () => {
    await page.goto(`${ts.server.url}/#/room/vq-east/r1`);
    const badge = 'tr[data-device="vq-m2"] .b-health:not([hidden])';
    await page.waitForSelector(badge, { timeout: 30_000 });
    expect(await page.textContent(badge)).toBe('失压');
    expect(await page.getAttribute(badge, 'data-levels')).toBe('voltage_loss');
    // the healthy transformer meter has none
    expect(await page.isHidden('.tr-panel .b-health')).toBe(true);
    await page.waitForSelector('.tr-panel .cap[data-available]', { timeout: 10_000 });
    // largest 15-min load 80 % of 400 kVA = 320 kVA → 80 kVA available
    expect(await page.textContent('.tr-panel .cap')).toBe('可开放 80 kVA（P95 80 kVA）');
    await page.screenshot({ path: await screenshotPath('quality-room'), fullPage: true });
    // the overview shows it beside the transformer's rating
    await page.goto(`${ts.server.url}/#/overview`);
    await page.waitForSelector('.room-card .lrow.t .cap[data-available="80"]', { timeout: 10_000 });
    expect(await page.textContent('.room-card .lrow.t .cap')).toBe('可开放 80 kVA');
    expect(await page.getAttribute('.room-card .lrow.t .cap', 'title')).toContain('95% 分位 320 kVA');
    await page.screenshot({ path: await screenshotPath('quality-overview') });
    await page.goto(`${ts.server.url}/#/room/vq-east/r1`);
    await page.waitForSelector(badge, { timeout: 10_000 });
    // and in English
    await page.click('#lang');
    await page.waitForSelector('tr[data-device="vq-m2"] .b-health:text("voltage loss")', { timeout: 10_000 });
    await page.screenshot({ path: await screenshotPath('quality-room-en'), fullPage: true });
  });
});
