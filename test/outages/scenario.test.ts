/**
 * The outage pool end to end: a Modbus simulator with one meter per
 * transformer and line, the real edge agent polling it, the shared
 * Mosquitto, a real server with the test SMS gateway. Plans on A (cut inside
 * its window → planned, its outage alarm suppressed by design), C (never cut
 * → not executed), D (dark past its end → overrun, extension notice), E
 * (cancelled on the day → cancellation notices); B cut without a plan →
 * fault outage with a critical alarm and its customers; a repair call from a
 * customer of B → linked; meter mX, modelled under B but fed from A → exactly
 * one mismatch finding naming it; B restored → restoration notices only to
 * customers measured back, the one behind mX a nested outage.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAgent, loadAgentConfig, type Agent } from '../../edge-agent/index.ts';
import { createMeterModel, startModbusSimulator, type ModbusSimulator } from '../../simulators/index.ts';
import { TestSmsGateway } from '../support/sms-gateway.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually } from '../support/ws-client.ts';

const SITE = 'ops';
const AGENT = `ops-agent-${process.pid}`;
const SECRET = 'scenario-gateway-secret-0123456789';
const METERS = ['mA', 'mA1', 'mB', 'mB1', 'mX', 'mC', 'mC1', 'mD', 'mD1'];
const unit = (m: string) => METERS.indexOf(m) + 1;
const TOPOLOGY = `
sites:
  - id: ${SITE}
    name: 东区
    rooms:
      - id: r1
        name: 配电室
        agent: ${AGENT}
        transformers:
          - { id: A, name: A号变, ratedKva: 400, meter: mA, lines: [{ id: LA1, name: LA1, meter: mA1 }] }
          - { id: B, name: B号变, ratedKva: 400, meter: mB, lines: [{ id: LB1, name: LB1, meter: mB1 }, { id: LB2, name: LB2, meter: mX }] }
          - { id: C, name: C号变, ratedKva: 400, meter: mC, lines: [{ id: LC1, name: LC1, meter: mC1 }] }
          - { id: D, name: D号变, ratedKva: 400, meter: mD, lines: [{ id: LD1, name: LD1, meter: mD1 }] }
          - { id: E, name: E号变, ratedKva: 400 }
customers:
  - { id: CA1, name: 甲, site: ${SITE}, transformer: A, line: LA1, contacts: [{ name: 甲, phone: '13900000001' }, { name: 甲妻, phone: '13900000002' }] }
  - { id: CA2, name: 医院, important: true, site: ${SITE}, transformer: A, line: LA1, contacts: [{ name: 院办, phone: '13900000003' }] }
  - { id: CB1, name: 乙, site: ${SITE}, transformer: B, line: LB1, contacts: [{ name: 乙, phone: '13900000011' }] }
  - { id: CB2, name: 丙, site: ${SITE}, transformer: B, line: LB2, contacts: [{ name: 丙, phone: '13900000012' }] }
  - { id: CC1, name: 丁, site: ${SITE}, transformer: C, line: LC1, contacts: [{ name: 丁, phone: '13900000021' }] }
  - { id: CD1, name: 戊, site: ${SITE}, transformer: D, line: LD1, contacts: [{ name: 戊, phone: '13900000031' }] }
  - { id: CE1, name: 己, site: ${SITE}, transformer: E, contacts: [{ name: 己, phone: '13900000041' }] }
  - { id: CE2, name: 庚, site: ${SITE}, transformer: E, contacts: [{ name: 庚, phone: '13900000042' }] }
`;
const LIVE = { ua: 230, ub: 230, uc: 230, ia: 40, ib: 40, ic: 40, f: 50 };
const DARK = { ua: 0, ub: 0, uc: 0, ia: 0, ib: 0, ic: 0, f: 50 };

let sim: ModbusSimulator;
let agent: Agent;
let gateway: TestSmsGateway;
let ts: TestServer;
const plans: Record<string, string> = {};

async function api(path: string, method = 'GET', body?: unknown): Promise<any> {
  const res = await ts.fetch(path, { method, role: 'operator', ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
  const j = await res.json();
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(j)}`);
  return j;
}
const cut = (...ms: string[]) => ms.forEach((m) => sim.setOverride(unit(m), DARK));
const restore = (...ms: string[]) => ms.forEach((m) => sim.setOverride(unit(m), LIVE));
const outages = async () => (await api('/api/outages?view=all')).outages as any[];
const outageOf = async (t: string) => (await outages()).find((o) => o.scope.transformer === t && o.scope.kind === 'transformer' && o.state === 'active');
const alarm = async (id: string) => (await api(`/api/alarms?state=all&source=${encodeURIComponent(id.slice(id.indexOf(':') + 1))}`)).alarms.find((a: any) => a.alarmId === id);

beforeAll(async () => {
  sim = await startModbusSimulator({ port: 0, units: METERS.map((m, i) => ({ unitId: i + 1, model: createMeterModel({ profile: 'feeder', seed: 40 + i }) })) });
  for (const m of METERS) restore(m);
  agent = createAgent(
    loadAgentConfig({
      agent: AGENT,
      site: SITE,
      mqtt: { url: inject('mqttUrl') },
      publishIntervalMs: 100,
      devices: METERS.map((m) => ({ id: m, profile: 'dtsu666', transport: { kind: 'tcp' as const, host: '127.0.0.1', port: sim.port }, unitId: unit(m), intervalMs: 250, timeoutMs: 200, backoffMaxMs: 500 })),
    }),
    { log: pino({ level: 'silent' }) },
  );
  await agent.start();
  gateway = new TestSmsGateway({ secret: SECRET, delayMs: [1, 10], receiptDelayMs: [50, 200] });
  await gateway.start();
  ts = await startTestServer({
    mqttUrl: inject('mqttUrl'),
    topologyYaml: TOPOLOGY,
    extra: {
      alarms: { tickMs: 100 },
      outages: { tickMs: 200, notExecutedAfterMin: 0.1, coincideS: 20, liveInsideAfterS: 5 },
      notify: { gateway: { url: gateway.url, account: 'gw', secret: SECRET }, retryBaseMs: 100, retryMaxMs: 500 },
    },
  });
  gateway.receiptUrl = `${ts.server.url}/api/notify/receipts`;
  await eventually(async () => (await api(`/api/latest?site=${SITE}`)).readings.filter((r: any) => r.v.ua > 200).length === METERS.length, 20_000, 'every meter live');
}, 60_000);
afterAll(async () => {
  // each part is given 20 s to stop; one that does not is named (a stop that hangs is a defect of its own)
  for (const [what, stop] of [
    ['edge agent', () => agent?.stop()],
    ['server', () => ts?.close()],
    ['SMS gateway', () => gateway?.stop()],
    ['simulator', () => sim?.stop()],
  ] as const) {
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<'stuck'>((r) => (timer = setTimeout(() => r('stuck'), 20_000)));
    const t = Date.now();
    const how = await Promise.race([Promise.resolve(stop()).then(() => 'stopped' as const), stuck]);
    clearTimeout(timer);
    if (how === 'stuck' || Date.now() - t > 5000) console.warn(`[scenario teardown] ${what}: ${how} after ${Date.now() - t} ms`);
  }
}, 100_000);

const plan = async (t: string, start: number, end: number) => {
  const p = await api('/api/plans', 'POST', { scope: [{ kind: 'transformer', site: SITE, transformer: t }], start, end, reason: '检修', workOrder: `WO-${t}` });
  const c = await api(`/api/plans/${p.id}/confirm`, 'POST', { customers: p.customers });
  expect(c).toMatchObject({ state: 'notified', late: true, confirmedCustomers: p.customers });
  plans[t] = p.id;
};

describe('outage pool scenario (simulator, edge agent, server, SMS gateway)', () => {
  it('plans confirmed and notified; A cut inside its window is planned and raises no critical alarm; mX going dark with A is one finding', async () => {
    const now = Date.now();
    await plan('A', now + 60_000, now + 600_000);
    await plan('C', now + 2_000, now + 600_000);
    await plan('E', now + 3_600_000, now + 7_200_000);
    // one notice per contact of every affected customer, delivered
    await eventually(async () => {
      const d = await api(`/api/plans/${plans.A}`);
      return d.notices.length === 3 && d.notices.every((n: any) => n.purpose === 'outage_planned' && n.state === 'delivered');
    }, 20_000, 'A notices delivered');
    expect(gateway.messages().filter((m) => m.text.startsWith('【停电通知】') && m.text.includes('A号变')).map((m) => m.phone).sort()).toEqual(['13900000001', '13900000002', '13900000003']);

    cut('mA', 'mA1', 'mX');
    const a = await eventually(() => outageOf('A'), 15_000, "A's outage");
    expect(a).toMatchObject({ cause: 'planned', planId: plans.A, customers: 2, important: 1 });
    expect(await alarm(`outage:${SITE}/A`)).toMatchObject({ state: 'suppressed', active: true, suppression: { reason: expect.stringContaining(plans.A!) } });
    await eventually(async () => (await api(`/api/plans/${plans.A}`)).state === 'in_progress', 10_000, 'A in progress');
    const f = await eventually(async () => (await api('/api/findings')).findings.length > 0 && (await api('/api/findings')).findings, 15_000, 'a finding');
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ meter: 'mX', kind: 'dark_outside', modelled: { site: SITE, transformer: 'B', line: 'LB2' }, suggested: { site: SITE, transformer: 'A' } });
    expect(f[0].evidence[0]).toMatchObject({ outageId: a.id, voltage: 0 });
  }, 60_000);

  it('B cut without a plan: a fault outage with its critical alarm and customers; a repair call from a customer of B is linked', async () => {
    // D's short window starts now: however long the steps before took on a loaded machine, D is cut inside it
    const now = Date.now();
    await plan('D', now + 1_000, now + 16_000);
    cut('mB', 'mB1', 'mD', 'mD1');
    const b = await eventually(() => outageOf('B'), 15_000, "B's outage");
    expect(b).toMatchObject({ cause: 'fault', customers: 2 });
    expect(b.planId).toBeUndefined();
    const al = await eventually(() => alarm(`outage:${SITE}/B`), 10_000, "B's alarm");
    expect(al).toMatchObject({ state: 'unack_active', severityName: 'critical', suppression: null });
    const d = await api(`/api/outages/${b.id}`);
    expect(d.affected.map((c: any) => c.id).sort()).toEqual(['CB1', 'CB2']);
    const t = await api('/api/tickets', 'POST', { customer: 'CB1', text: '家里停电了' });
    expect(t).toMatchObject({ verdict: 'linked', outageId: b.id, repeatCount: 1 });
    expect((await api(`/api/outages/${b.id}`)).ticketList.map((x: any) => x.id)).toEqual([t.id]);
    const dOut = await eventually(() => outageOf('D'), 15_000, "D's outage");
    expect(dOut).toMatchObject({ cause: 'planned', planId: plans.D });
  }, 60_000);

  it('E cancelled on the day: cancellation notices at once; C never cut: not executed with its alarm', async () => {
    await api(`/api/plans/${plans.E}/cancel`, 'POST', { reason: '天气' });
    await eventually(async () => (await api(`/api/plans/${plans.E}`)).notices.filter((n: any) => n.purpose === 'outage_cancelled').length === 2, 10_000, 'cancellation notices');
    const c = await eventually(async () => {
      const p = await api(`/api/plans/${plans.C}`);
      return p.state === 'not_executed' && p;
    }, 20_000, 'C not executed');
    expect(c.outages).toEqual([]);
    expect(await alarm(`plan-not-executed:${SITE}/C/${plans.C}`)).toMatchObject({ active: true, severityName: 'high' });
  }, 60_000);

  it('D dark past its end: overrun, its alarm and an extension notice', async () => {
    const d = await eventually(async () => {
      const p = await api(`/api/plans/${plans.D}`);
      return p.state === 'overrun' && p;
    }, 40_000, 'D overrun');
    expect(d.restoredAt).toBeUndefined();
    await eventually(async () => (await api(`/api/plans/${plans.D}`)).notices.filter((n: any) => n.purpose === 'outage_extended').map((n: any) => n.customer).join() === 'CD1', 10_000, 'extension notice');
    expect(await alarm(`plan-overrun:${SITE}/D/${plans.D}`)).toMatchObject({ active: true });
    restore('mD', 'mD1');
    await eventually(async () => (await alarm(`plan-overrun:${SITE}/D/${plans.D}`))?.active === false, 15_000, 'overrun alarm cleared');
  }, 60_000);

  it('B restored: restoration notice only to the customer measured back; the one behind mX is a nested outage; still one finding', async () => {
    restore('mB', 'mB1');
    const b = await eventually(async () => (await outages()).find((o) => o.scope.transformer === 'B' && o.scope.kind === 'transformer' && o.state === 'restored'), 20_000, 'B restored');
    const d = await api(`/api/outages/${b.id}`);
    expect(d.restoration).toEqual({ back: ['CB1'], dark: ['CB2'], unmeasured: [] });
    await eventually(async () => (await api(`/api/outages/${b.id}`)).notices.filter((n: any) => n.purpose === 'outage_restored').map((n: any) => n.customer).join() === 'CB1', 10_000, 'restoration notice');
    const nested = await eventually(async () => (await outages()).find((o) => o.nested === b.id), 15_000, 'nested outage');
    expect(nested).toMatchObject({ scope: { kind: 'line', line: 'LB2' }, state: 'active', customers: 1 });
    const f = (await api('/api/findings')).findings;
    expect(f.map((x: any) => x.meter)).toEqual(['mX']);
  }, 60_000);
});
