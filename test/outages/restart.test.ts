/**
 * A measured outage survives a server restart mid-outage: readings from an
 * agent-shaped MQTT feed keep T1's meters dark, the server stops and starts
 * on the same data directory, and the pool still holds the same outage (same
 * id and start, no second record, its customer-hours still growing); supply
 * back after the restart restores it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Feed } from '../alarms/helpers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually } from '../support/ws-client.ts';

const SITE = 'orst';
const AGENT = `orst-agent-${process.pid}`;
const TOPOLOGY = `
sites:
  - id: ${SITE}
    name: 重启
    rooms:
      - id: r1
        name: R1
        agent: ${AGENT}
        transformers:
          - { id: T1, name: 1号变, ratedKva: 400, meter: rm1, lines: [{ id: L1, name: L1, meter: rm2 }] }
          - { id: T2, name: 2号变, ratedKva: 400, meter: rm3 }
customers:
  - { id: K1, name: 甲, site: ${SITE}, transformer: T1, line: L1, contacts: [{ name: 甲, phone: '13700000001' }] }
  - { id: K2, name: 乙, site: ${SITE}, transformer: T1, contacts: [{ name: 乙, phone: '13700000002' }] }
`;

let ts: TestServer;
let feed: Feed;
let dir: string;
let timer: NodeJS.Timeout;
const volts: Record<string, number> = { rm1: 230, rm2: 230, rm3: 230 };

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-outage-restart-'));
  ts = await startTestServer({ mqttUrl: inject('mqttUrl'), topologyYaml: TOPOLOGY, dataDir: dir, extra: { alarms: { tickMs: 100, persistIntervalMs: 300 }, outages: { tickMs: 200 } } });
  feed = await Feed.open(inject('mqttUrl'), SITE, AGENT);
  // every meter every 200 ms, as an agent would
  timer = setInterval(() => void feed.publish(Object.entries(volts).map(([device, v]) => ({ device, ts: Date.now(), v: { ua: v, ub: v, uc: v, ia: v / 10, ib: v / 10, ic: v / 10 } }))), 200);
}, 60_000);
afterAll(async () => {
  clearInterval(timer);
  await feed?.close();
  await ts?.close();
  await rm(dir, { recursive: true, force: true });
});

const outages = async () => (await (await ts.fetch('/api/outages?view=all', { role: 'viewer' })).json()).outages as any[];

describe('outage pool across a restart', () => {
  it('the same outage before and after the restart, restored afterwards', async () => {
    volts.rm1 = volts.rm2 = 0;
    const before = await eventually(async () => (await outages()).find((o) => o.state === 'active' && o.scope.transformer === 'T1'), 15_000, "T1's outage");
    expect(before).toMatchObject({ scope: { kind: 'transformer', site: SITE, transformer: 'T1' }, cause: 'fault', customers: 2 });
    await ts.server.stop();
    await ts.server.start();
    const after = await eventually(async () => (await outages()).find((o) => o.id === before.id), 15_000, 'the outage after the restart');
    expect(after).toMatchObject({ state: 'active', start: before.start, customers: 2 });
    await new Promise((r) => setTimeout(r, 1500));
    const all = await outages();
    expect(all.filter((o) => o.scope.transformer === 'T1').map((o) => `${o.id} ${o.state}`)).toEqual([`${before.id} active`]);
    expect(all[0].customerHours).toBeGreaterThanOrEqual(before.customerHours);
    volts.rm1 = volts.rm2 = 230;
    const restored = await eventually(async () => (await outages()).find((o) => o.id === before.id && o.state === 'restored'), 20_000, 'restored');
    expect(restored.end).toBeGreaterThan(after.start);
    // the restoration notices are handed over at the pool's next tick after the restoration
    const detail = await eventually(
      async () => {
        const d = await (await ts.fetch(`/api/outages/${before.id}`, { role: 'viewer' })).json();
        return d.timeline.length >= 3 ? d : undefined;
      },
      10_000,
      'the notices handed over',
    );
    expect(detail.restoration).toEqual({ back: ['K1', 'K2'], dark: [], unmeasured: [] });
    // opened, restored (owing the restoration notices), the notices handed over
    expect(detail.timeline.map((e: any) => `${e.by} ${e.what.split(':')[0]}`)).toEqual(['system transformer outage (fault)', 'system restored', 'system notices handed over']);
  }, 60_000);
});
