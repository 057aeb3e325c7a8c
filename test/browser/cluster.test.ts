/**
 * One view across cluster servers, in real Chromium: a 3-node NATS cluster,
 * two gridwatch servers in cluster mode (processes, on InfluxDB) and a real
 * edge agent polling a Modbus simulator, whose partition the second server
 * owns. The dashboard is opened on the first server only, which handles none
 * of that agent's readings; it shows (a) the overload alarm the second
 * server raises from the agent's readings, (b) the acknowledgement made
 * through the second server's REST API, and (c) the live currents of
 * another meter of that agent, set in the simulator after the page was open.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { partitionOf } from '../../server/cluster/partition.ts';
import { startNatsCluster, type NatsCluster } from '../harness/index.ts';
import { buildDashboard, launchChromium, loginPage, screenshotPath } from '../support/browser.ts';
import { TEST_PASSWORD } from '../support/server.ts';
import { ClusterServer, clusterTopology, leaseOwners, readingsTap, startAgents, until } from '../cluster/support.ts';

const influxUrl = inject('influxUrl');
const PARTITIONS = 4;
const site = `bcl-${randomBytes(3).toString('hex')}`;
/** an agent id whose partition is odd: the second of the two servers (sorted by id) owns it */
const prefix = (() => {
  for (let i = 0; ; i++) if (partitionOf(`${site}-${i}-a0`, PARTITIONS) % 2 === 1) return `${site}-${i}`;
})();
const agentId = `${prefix}-a0`;
const meters = [1, 2].map((u) => `${agentId}-m0-${u}`);
const [hot, watched] = meters as [string, string];
const RULE = 'cl-line-load';
const RULES = `version: 1
useDefaults: true
rules:
  - id: comm-loss
    enabled: false
  - id: ${RULE}
    name: 出线过载 (cluster test)
    kind: threshold
    scope: { site: ${site}, role: line }
    quantity: load_rate
    deadband: 5
    onDelayS: 1
    offDelayS: 1
    levels: { hi: { value: 100, severity: high } }
`;
const alarmId = `${RULE}:${hot}`;
const row = `.alarms-table tr[data-alarm="${alarmId}"]`;

let cluster: NatsCluster;
let s1: ClusterServer;
let s2: ClusterServer;
let browser: Browser;
let page: Page;
let agents: Awaited<ReturnType<typeof startAgents>>;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  const t0 = Date.now();
  const lap = (what: string) => process.env.GW_TEST_LOG && console.log(`${what}: ${Date.now() - t0} ms`);
  const [dashboardDir, nats, chromium] = await Promise.all([buildDashboard(), startNatsCluster({ partitions: PARTITIONS }), launchChromium()]);
  lap('dashboard, NATS, Chromium');
  cluster = nats;
  browser = chromium;
  cleanups.push(() => cluster.stop(), () => browser.close());
  const common = {
    cluster,
    influxUrl,
    database: `gw_bcl_${site.slice(4)}`,
    topologyYaml: clusterTopology(site, [{ agent: agentId, meters }]),
    rulesYaml: RULES,
    extra: { dashboardDir },
  };
  s1 = await ClusterServer.create({ ...common, serverId: 'gw1' });
  s2 = await ClusterServer.create({ ...common, serverId: 'gw2' });
  cleanups.push(() => s1.close(), () => s2.close());
  // the second starts once the first has made the streams and buckets (both making them at once on a
  // loaded machine has had a JetStream request time out), and boots while the first finishes its start
  const first = s1.start();
  await until(() => (s1.logs.some((l) => l.msg === 'cluster member starting') ? [] : ['gw1 not yet a cluster member']), 60_000, 'gw1 connected to NATS');
  lap('gw1 a member');
  await Promise.all([first, s2.start()]);
  lap('gw2 started');
  const tap = await readingsTap(cluster);
  cleanups.push(() => tap.close());
  await until(async () => {
    const owners = await leaseOwners(tap.nc, PARTITIONS);
    return owners[partitionOf(agentId, PARTITIONS)] === 'gw2' && owners.includes('gw1') ? [] : [`owners ${JSON.stringify(owners)}`];
  }, 20_000, "the agent's partition on gw2, the others shared");
  lap('partitions shared');
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  // logged in on gw1 before the agent sends anything: whatever the page shows of it came through gw2
  await loginPage(page, s1.url, 'admin', TEST_PASSWORD, '#/overview');
  agents = await startAgents({ cluster, site, prefix, count: 1, meters: 2, intervalMs: 500 });
  cleanups.push(() => agents.stop());
  lap('page and agent');
}, 90_000);

afterAll(async () => {
  while (cleanups.length) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
});

/** `alarm transition` log lines of one server for the test's alarm */
const transitions = (s: ClusterServer, reason: string) => s.logs.filter((l) => l.msg === 'alarm transition' && l.alarmId === alarmId && l.reason === reason);

describe('dashboard across cluster servers', () => {
  it("gw1's overview shows live currents of a meter handled on gw2, as they change", async () => {
    const cell = (ph: string) => `.lrow[data-device="${watched}"] .cur .${ph}`;
    await page.waitForSelector(`.lrow[data-device="${watched}"].q-good`, { timeout: 20_000 });
    // values no reading had before: the page was open on gw1 when they were polled on gw2's agent
    agents.sims[0]!.setOverride(2, { ia: 137, ib: 142, ic: 149 });
    await page.waitForFunction(
      (sels) => sels.map((s) => document.querySelector(s)?.textContent).join('/') === '137/142/149',
      [cell('pa'), cell('pb'), cell('pc')],
      { timeout: 20_000 },
    );
    await page.screenshot({ path: await screenshotPath('cluster-overview-gw1'), fullPage: true });
  }, 40_000);

  it('gw1 shows the overload alarm gw2 raised, then the acknowledgement made on gw2', async () => {
    await page.goto(`${s1.url}/#/alarms`);
    await page.waitForSelector('#conn[data-state="open"]');
    // 400 A on a 200 A line: 200 %
    agents.sims[0]!.setOverride(1, { ia: 400, ib: 400, ic: 400 });
    await page.waitForSelector(`${row}[data-state="unack_active"]`, { timeout: 20_000 });
    expect(transitions(s2, 'raise').length).toBe(1);
    expect(transitions(s1, 'raise')).toEqual([]);
    const raised = (await page.textContent(row))!;
    expect(raised).toContain('未确认');
    expect(raised).toContain('200 / 100');
    await page.screenshot({ path: await screenshotPath('cluster-alarm-raised-on-gw2'), fullPage: true });

    await s2.request(`/api/alarms/${encodeURIComponent(alarmId)}/acknowledge`, { method: 'POST', body: JSON.stringify({ comment: '在gw2上确认' }) });
    await page.waitForSelector(`${row}[data-state="ack_active"]`, { timeout: 20_000 });
    const acked = (await page.textContent(row))!;
    expect(acked).not.toContain('未确认');
    expect(acked).toContain('在gw2上确认');
    const listed = (await s1.request(`/api/alarms?rule=${RULE}`)) as { alarms: Array<{ alarmId: string; state: string; acknowledged: { by: string; comment?: string } | null }> };
    expect(listed.alarms).toEqual([expect.objectContaining({ alarmId, state: 'ack_active', acknowledged: expect.objectContaining({ by: 'admin', comment: '在gw2上确认' }) })]);
    await page.screenshot({ path: await screenshotPath('cluster-alarm-acked-on-gw2'), fullPage: true });
  }, 60_000);
});
