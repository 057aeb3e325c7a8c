/**
 * The first dashboard page in real headless Chromium against a real server,
 * simulator and edge agent: live values appear and change; a dead meter turns
 * to 通信中断 with its last values greyed, never shown as live.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createAgent, loadAgentConfig } from '../../edge-agent/index.ts';
import { createMeterModel, startModbusSimulator, type ModbusSimulator } from '../../simulators/index.ts';
import { buildDashboard, launchChromium, screenshotPath } from '../support/browser.ts';
import { testLog } from '../support/logger.ts';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';

const TOPOLOGY = `
sites:
  - id: b-site
    name: 城东供电所
    rooms:
      - id: b-room
        name: 锦绣花园配电房
        agent: b-agent
        transformers:
          - id: b-t1
            name: 1#配变
            ratedKva: 630
            meter: b-m1
            lines:
              - { id: b-l1, name: 1号楼出线, ratedCurrentA: 250, meter: b-m2 }
              - { id: b-l2, name: 2号楼出线, ratedCurrentA: 250, meter: b-m3 }
`;

let server: TestServer;
let sim: ModbusSimulator;
let agent: ReturnType<typeof createAgent>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  const dashboardDir = await buildDashboard();
  server = await startTestServer({ topologyYaml: TOPOLOGY, extra: { dashboardDir } });
  sim = await startModbusSimulator({
    port: 0,
    units: [1, 2, 3].map((unitId) => ({ unitId, model: createMeterModel({ profile: unitId === 1 ? 'feeder' : 'residential', seed: unitId }) })),
  });
  agent = createAgent(
    loadAgentConfig({
      agent: 'b-agent',
      site: 'b-site',
      mqtt: { url: server.server.mqttUrl },
      publishIntervalMs: 250,
      devices: ['b-m1', 'b-m2', 'b-m3'].map((id, i) => ({ id, profile: 'dtsu666', transport: { kind: 'tcp', host: sim.host, port: sim.port }, unitId: i + 1, intervalMs: 500, timeoutMs: 300, backoffMaxMs: 1000 })),
    }),
    { log: testLog },
  );
  await agent.start();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 700 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await sim?.stop();
  await server?.close();
});

describe('live page in Chromium', () => {
  it('shows every meter of the room with live, changing values', async () => {
    await page.goto(`${server.server.url}/`);
    await page.waitForSelector('#login:not([hidden])');
    await page.screenshot({ path: await screenshotPath('login'), fullPage: true });
    await page.fill('input[name="username"]', 'viewer');
    await page.fill('input[name="password"]', 'wrong-password');
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#login-error:has-text("用户名或密码错误")');
    await page.fill('input[name="password"]', TEST_PASSWORD);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#conn[data-state="open"]');
    expect(await page.textContent('#who')).toContain('viewer');
    await page.waitForSelector('section.room[data-room="b-room"] h2:has-text("锦绣花园配电房")');
    for (const d of ['b-m1', 'b-m2', 'b-m3']) await page.waitForSelector(`tr[data-device="${d}"].good`, { timeout: 15_000 });
    const ua = () => page.textContent('tr[data-device="b-m2"] td[data-q="ua"]');
    const first = await ua();
    expect(Number(first)).toBeGreaterThan(180);
    await page.waitForFunction((v) => document.querySelector('tr[data-device="b-m2"] td[data-q="ua"]')?.textContent !== v, first, { timeout: 15_000 });
    await page.screenshot({ path: await screenshotPath('live-page'), fullPage: true });
  });

  it('greys a dead meter as 通信中断 with its age, never as live', async () => {
    sim.setDead(3, true);
    await page.waitForSelector('tr[data-device="b-m3"].comm_loss', { timeout: 15_000 });
    const state = await page.textContent('tr[data-device="b-m3"] td.state');
    expect(state).toContain('通信中断');
    expect(state).toMatch(/秒前|分钟前/);
    // its last values are still there to read, but greyed
    const opacity = await page.$eval('tr[data-device="b-m3"] td[data-q="ua"]', (e) => getComputedStyle(e).opacity);
    expect(Number(opacity)).toBeLessThan(1);
    await page.screenshot({ path: await screenshotPath('live-page-comm-loss'), fullPage: true });
    sim.setDead(3, false);
    await page.waitForSelector('tr[data-device="b-m3"].good', { timeout: 15_000 });
  });
});
