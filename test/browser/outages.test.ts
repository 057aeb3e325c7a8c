/**
 * 停电信息 in real Chromium against a real server (embedded broker, DuckDB,
 * the outage pool, the notification service and our test SMS gateway): an
 * operator enters a planned outage in the form, sees the customers the
 * server computed (the important one first, the one without a mobile said
 * so), confirms, and watches every notice reach "delivered"; a viewer sees
 * the plan but no confirm button; a transformer whose meters really go dark
 * (readings published through the broker by a provisioned agent) shows as a
 * fault outage with its customers, and a line meter the topology puts under
 * the other transformer going dark with it is a topology-mismatch finding,
 * which an admin resolves; a CSV import with a bad row names the row and
 * imports nothing; both languages, no message key left on screen.
 * Screenshots: test-artifacts/outages-*.png.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { readingsTopic } from '../../contract/index.ts';
import { buildDashboard, launchChromium, loginPage, screenshotPath } from '../support/browser.ts';
import { startTestServer, TEST_PASSWORD, type TestServer } from '../support/server.ts';
import { TestSmsGateway } from '../support/sms-gateway.ts';

const SECRET = 'outages-browser-receipt-secret';

const TOPOLOGY = `
feeders:
  - { id: f-south-1, name: 10kV 城南一线, substation: 110kV 城南变 }
sites:
  - id: o-s1
    name: 城南供电所
    rooms:
      - id: r1
        name: 幸福里配电房
        agent: o-agent
        transformers:
          - id: t1
            name: 1#配变
            ratedKva: 630
            feeder: f-south-1
            meter: o-m1
            lines:
              - { id: l1, name: 1号楼出线, ratedCurrentA: 250, meter: o-m2 }
              - { id: l2, name: 商铺出线, ratedCurrentA: 160, meter: o-m3 }
          - id: t2
            name: 2#配变
            ratedKva: 400
            feeder: f-south-1
            meter: o-m4
            lines:
              # in the field this line hangs on 1#配变: it goes dark with it
              - { id: l3, name: 3号楼出线, ratedCurrentA: 250, meter: o-m5 }
              - { id: l4, name: 路灯出线, ratedCurrentA: 63, meter: o-m6 }
customers:
  - { id: c-hosp, name: 县人民医院, category: public, important: true, site: o-s1, transformer: t2, line: l3, contacts: [{ name: 李强, role: 电气联系人, phone: '13900000001' }, { name: 医院值班室, role: 值班室, phone: '13900000002' }] }
  - { id: c-zhang, name: 张伟, site: o-s1, transformer: t2, line: l4, contacts: [{ name: 张伟, role: 户主, phone: '13900000003' }] }
  - { id: c-liu, name: 刘洋, site: o-s1, transformer: t2, line: l4, contacts: [{ name: 刘洋, role: 户主 }] }
  - { id: c-wang, name: 王芳, site: o-s1, transformer: t1, line: l1, contacts: [{ name: 王芳, role: 户主, phone: '13900000004' }] }
  - { id: c-shop, name: 陈记便利店, category: commercial, site: o-s1, transformer: t1, line: l2, contacts: [{ name: 陈静, role: 店主, phone: '13900000005' }] }
`;
const METERS = ['o-m1', 'o-m2', 'o-m3', 'o-m4', 'o-m5', 'o-m6'];
/** what the field really has under 1#配变 (o-m5 included) */
const UNDER_T1 = new Set(['o-m1', 'o-m2', 'o-m3', 'o-m5']);

let server: TestServer;
let gateway: TestSmsGateway;
let browser: Browser;
let op: Page;
let base: string;
let meters: { client: MqttClient; timer: NodeJS.Timeout; dark: boolean };

beforeAll(async () => {
  gateway = new TestSmsGateway({ secret: SECRET, failRate: 0, delayMs: [5, 40], receiptDelayMs: [200, 1200], duplicateReceiptRate: 0.2 });
  await gateway.start();
  const dashboardDir = await buildDashboard();
  server = await startTestServer({
    topologyYaml: TOPOLOGY,
    extra: {
      dashboardDir,
      notify: { gateway: { url: gateway.url, account: 'gw', secret: SECRET }, retryBaseMs: 200, ratePerS: 50 },
      outages: { tickMs: 250, coincideS: 20 },
    },
  });
  base = server.server.url;
  gateway.receiptUrl = `${base}/api/notify/receipts`;
  gateway.replyUrl = `${base}/api/notify/replies`;
  meters = await startMeters(server);
  browser = await launchChromium();
  op = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await loginPage(op, base, 'operator', TEST_PASSWORD, '#/outages');
}, 120_000);

afterAll(async () => {
  if (meters) {
    clearInterval(meters.timer);
    await meters.client.endAsync(true);
  }
  await browser?.close();
  await server?.close();
  await gateway?.stop();
});

/** Six meters reporting once a second through the broker, as the room's agent would; `dark` cuts 1#配变 and what really hangs on it. */
async function startMeters(s: TestServer): Promise<{ client: MqttClient; timer: NodeJS.Timeout; dark: boolean }> {
  const client = await mqtt.connectAsync(s.server.mqttUrl, { ...(await s.mqttAgent('o-agent', 'o-s1')), reconnectPeriod: 500 });
  let seq = 0;
  const state = { client, dark: false } as { client: MqttClient; timer: NodeJS.Timeout; dark: boolean };
  const publish = () => {
    const ts = Date.now();
    const readings = METERS.map((device) => {
      const off = state.dark && UNDER_T1.has(device);
      const u = off ? 0 : 228 + (seq % 3);
      const i = off ? 0 : 40;
      return { device, ts, seq: seq++, q: 'good', v: { ua: u, ub: u, uc: u, ia: i, ib: i, ic: i, p: off ? 0 : 25, pf: 0.95, f: 50 } };
    });
    if (client.connected) client.publish(readingsTopic('o-s1', 'o-agent'), JSON.stringify({ agent: 'o-agent', readings }), { qos: 1 });
  };
  state.timer = setInterval(publish, 1000);
  publish();
  return state;
}

const shot = async (page: Page, name: string) => page.screenshot({ path: await screenshotPath(`outages-${name}`), fullPage: true });

/** No message key (o_…, nav_…) may be shown instead of a word. */
async function noRawKeys(page: Page): Promise<void> {
  const text = (await page.textContent('#view')) ?? '';
  expect(text).not.toMatch(/\b(o|nav|sum)_[a-z]+[A-Za-z_]*\b/);
}

describe('停电信息 in Chromium', () => {
  it('plan form → computed customers → operator confirms → every reachable customer delivered', { timeout: 90_000 }, async () => {
    await op.waitForSelector('.view.outages .pool-tabs a[data-tab="now"].on');
    await op.click('a.new-plan');
    await op.waitForSelector('form.plan-form');
    // every problem at once before anything is sent
    await op.click('form.plan-form button[type="submit"]');
    await op.waitForSelector('.form-errors li[data-err="site"]');
    await op.selectOption('form.plan-form select[name="site"]', 'o-s1');
    await op.check('form.plan-form input[name="transformers"][value="t2"]');
    await op.fill('form.plan-form input[name="reason"]', '2#配变 检修及低压出线迁改');
    await op.fill('form.plan-form input[name="workOrder"]', 'GD-2026-1207');
    await op.fill('form.plan-form input[name="crew"]', '城南运维一班');
    await shot(op, 'plan-form');
    await op.click('form.plan-form button[type="submit"]');
    await op.waitForSelector('.plan-detail[data-state="draft"]');
    expect(op.url()).toMatch(/#\/outages\/plan\//);
    // the list the server computed: the important customer first among those not yet sent to
    await op.waitForSelector('.plan-detail .customers tr[data-customer="c-hosp"] .b-imp');
    const ids = await op.$$eval('.plan-detail .customers tr[data-customer]', (rows) => rows.map((r) => (r as HTMLElement).dataset.customer));
    expect(ids.sort()).toEqual(['c-hosp', 'c-liu', 'c-zhang']);
    expect(await op.textContent('.plan-detail .customers tr[data-customer="c-liu"]')).toContain('无可用联系方式');
    await shot(op, 'plan-draft');
    await op.click('.plan-detail button.confirm');
    await op.waitForSelector('.plan-detail[data-state="notified"]', { timeout: 20_000 });
    // delivery per customer, live: both contacts of the hospital and 张伟's mobile
    for (const c of ['c-hosp', 'c-zhang']) await op.waitForSelector(`.plan-detail tr[data-customer="${c}"][data-delivery="delivered"]`, { timeout: 45_000 });
    expect(await op.getAttribute('.plan-detail tr[data-customer="c-liu"]', 'data-delivery')).toBe('none');
    expect(await op.textContent('.plan-detail [data-k="notices"]')).toMatch(/已送达 3\/3/);
    expect(gateway.stats().sent).toBe(3);
    await shot(op, 'plan-delivered');
    await noRawKeys(op);
  });

  it('a viewer sees the plan and its customers but no confirm button', { timeout: 60_000 }, async () => {
    const draft = (await (
      await server.fetch('/api/plans', {
        role: 'operator',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ scope: [{ kind: 'line', site: 'o-s1', line: 'l1' }], start: Date.now() + 10 * 86_400_000, end: Date.now() + 10 * 86_400_000 + 3 * 3_600_000, reason: '1号楼出线 电缆更换', workOrder: 'GD-2026-1301', crew: '城南运维二班' }),
      })
    ).json()) as { id: string };
    const viewer = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await loginPage(viewer, base, 'viewer', TEST_PASSWORD, `#/outages/plan/${draft.id}`);
    await viewer.waitForSelector('.plan-detail[data-state="draft"] .customers tr[data-customer="c-wang"]');
    expect(await viewer.$('.plan-detail button.confirm')).toBeNull();
    expect(await viewer.textContent('.plan-detail .viewer-note')).toContain('只有调度员可以确认计划');
    expect(await viewer.$('a.new-plan')).toBeNull();
    // the upcoming tab lists both plans with their notice status
    await viewer.goto(`${base}/#/outages?tab=upcoming`);
    await viewer.waitForSelector(`.otable.plans tr[data-plan="${draft.id}"]`);
    expect(await viewer.$$('.otable.plans tr[data-plan]')).toHaveLength(2);
    await shot(viewer, 'upcoming-viewer');
    await viewer.close();
  });

  it('a transformer that goes dark is a fault outage with its customers; the mis-modelled line is a finding', { timeout: 120_000 }, async () => {
    meters.dark = true;
    await op.goto(`${base}/#/outages?tab=now`);
    const row = '.otable.outages tr.cause-fault[data-outage]';
    await op.waitForSelector(`${row}:has-text("1#配变")`, { timeout: 60_000 });
    await shot(op, 'now');
    await noRawKeys(op);
    await op.click(`${row}:has-text("1#配变") td.scope a`);
    await op.waitForSelector('.outage-detail .customers tr[data-customer="c-wang"]');
    await op.waitForSelector('.outage-detail .customers tr[data-customer="c-shop"]');
    expect(await op.textContent('.outage-detail .head')).toContain('故障停电');
    // the finding shows in the outage's detail once the pool has seen o-m5 go dark with it
    await op.waitForSelector('.outage-detail [data-part="findings"] tr[data-finding]:has-text("o-m5")', { timeout: 60_000 });
    await shot(op, 'detail');
    // the journal in the page's language: no English sentence of the server on the Chinese page
    await op.waitForSelector('.outage-detail ol.timeline li:has-text("配变停电（故障停电）")');
    expect(await op.textContent('.outage-detail ol.timeline')).not.toMatch(/outage|customers|finding/);
    // the overview counts the outages now and links to them
    const now = ((await (await server.fetch('/api/outages?view=now')).json()) as { outages: unknown[] }).outages.length;
    await op.goto(`${base}/#/overview`);
    await op.waitForSelector(`a.chip[data-k="outages-now"][href="#/outages?tab=now"] b:text-is("${now}")`);
  });

  it('the findings list: an admin resolves the finding with a comment', { timeout: 90_000 }, async () => {
    // supply back first: while the meter stays dark outside the scope, the detector opens a new finding for it
    meters.dark = false;
    for (let i = 0; i < 60; i++) {
      const now = (await (await server.fetch('/api/outages?view=now')).json()) as { outages: unknown[] };
      if (now.outages.length === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const admin = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await loginPage(admin, base, 'admin', TEST_PASSWORD, '#/outages/findings');
    const f = '.findings-page tr[data-finding]:has-text("o-m5")';
    await admin.waitForSelector(f);
    expect(await admin.textContent(f)).toContain('范围外表计同时失电');
    // where the model has it and where the measurement puts it, by name
    expect(await admin.textContent(f)).toContain('幸福里配电房 2#配变');
    await shot(admin, 'findings');
    const id = (await admin.getAttribute(f, 'data-finding'))!;
    const row = `.findings-page tr[data-finding="${id}"]`;
    await admin.fill(`${row} input.note`, '现场核实：3号楼出线接在1#配变，已更正拓扑');
    await admin.click(`${row} button.resolve`);
    // gone from the open list (while the model is unchanged and the meter dark, the detector may open a new one)
    await admin.waitForSelector(row, { state: 'detached' });
    await admin.click('.findings-page button[data-state="resolved"]');
    await admin.waitForSelector(`.findings-page[data-state="resolved"] tr.fs-resolved[data-finding="${id}"]:has-text("已更正拓扑")`);
    // the history keeps it, beside any finding opened for the meter since
    await admin.click('.findings-page button[data-state="history"]');
    await admin.waitForSelector(`.findings-page[data-state="history"] tr.fs-resolved[data-finding="${id}"]`);
    // the operator sees the list but no resolve button
    await op.goto(`${base}/#/outages/findings?fs=resolved`);
    await op.waitForSelector('.findings-page tr.fs-resolved');
    expect(await op.$('.findings-page button.resolve')).toBeNull();
    await admin.close();
  });

  it('a CSV import with a bad row names its line and imports nothing', { timeout: 60_000 }, async () => {
    const before = ((await (await server.fetch('/api/plans?view=all')).json()) as { plans: unknown[] }).plans.length;
    await op.goto(`${base}/#/outages/import`);
    await op.waitForSelector('.import textarea');
    const day = new Date(Date.now() + 12 * 86_400_000).toISOString().slice(0, 10);
    await op.fill('.import textarea', `停电范围,开始时间,结束时间,停电原因,工单号,施工班组\ntransformer:o-s1/t1,${day} 08:00,${day} 12:00,1#配变 检修,GD-1,一班\ntransformer:o-s1/t9,${day} 08:00,${day} 12:00,不存在的配变,GD-2,二班\n`);
    await op.click('.import button.primary');
    await op.waitForSelector('.import-result table.rejected tr[data-line="3"]');
    expect(await op.textContent('.import-result')).toContain('未导入任何计划');
    await shot(op, 'import-rejected');
    const after = ((await (await server.fetch('/api/plans?view=all')).json()) as { plans: unknown[] }).plans.length;
    expect(after).toBe(before);
  });

  it('in English too: tabs, the outage history and a plan, no key left untranslated', { timeout: 60_000 }, async () => {
    await op.goto(`${base}/#/outages?tab=history`);
    await op.waitForSelector('.otable.outages tr[data-outage]');
    await shot(op, 'history');
    await op.click('#lang');
    await op.waitForSelector('.pool-tabs a[data-tab="history"]:has-text("History")');
    await op.waitForSelector('.otable.outages td:has-text("fault")');
    await shot(op, 'history-en');
    await noRawKeys(op);
    await op.goto(`${base}/#/outages?tab=upcoming`);
    await op.waitForSelector('.otable.plans tr[data-plan]');
    await op.click('.otable.plans tr[data-plan] td.scope a >> nth=0');
    await op.waitForSelector('.plan-detail .customers tr[data-customer]');
    await shot(op, 'plan-en');
    await noRawKeys(op);
    await op.click('#lang');
  });
});
