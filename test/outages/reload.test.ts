/**
 * A topology reload without a restart puts the new device layout in force
 * everywhere: a line meter moved to another transformer and a new room with
 * its own agent. While the model still has the line under T1, the line meter
 * going dark with T2 is a topology-mismatch finding, twice (the first one
 * resolved in between): both are in the findings history, which a restart
 * rebuilds from the journal. Before the reload the new room's readings are refused;
 * after it they are accepted and placed (site, room), /api/topology has the
 * room, a draft plan's customers are recomputed, and a cut of the moved
 * meter's new transformer is one transformer outage that counts the moved
 * line's customer (no line outage under the old one, no mismatch finding);
 * the line-loss areas follow (the moved meter sells under its new transformer).
 * A meter the reload removes (it never reported) has its comm-loss alarm
 * cleared. A file with errors is refused with every error listed and
 * changes nothing.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Feed } from '../alarms/helpers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { eventually } from '../support/ws-client.ts';

const SITE = 'zrel';
const A = `zrel-a-${process.pid}`;
const B = `zrel-b-${process.pid}`;
const room2 = `
      - id: r2
        name: 二号配电室
        agent: ${B}
        transformers:
          - { id: T3, name: 3号变, ratedKva: 400, meter: zm5 }`;
const topology = (l1Under: 'T1' | 'T2', withRoom2: boolean) => `
sites:
  - id: ${SITE}
    name: 重载
    rooms:
      - id: r1
        name: 一号配电室
        agent: ${A}
        transformers:
          - { id: T1, name: 1号变, ratedKva: 400, meter: zm1${l1Under === 'T1' ? ', lines: [{ id: L1, name: L1, meter: zm2 }, { id: L9, name: L9, meter: zm6 }]' : ''} }
          - { id: T2, name: 2号变, ratedKva: 400, meter: zm3, lines: [{ id: L2, name: L2, meter: zm4 }${l1Under === 'T2' ? ', { id: L1, name: L1, meter: zm2 }' : ''}] }${withRoom2 ? room2 : ''}
customers:
  - { id: K1, name: 甲, site: ${SITE}, transformer: ${l1Under}, line: L1, contacts: [{ name: 甲, phone: '13700000101' }] }
  - { id: K2, name: 乙, site: ${SITE}, transformer: T2, line: L2, contacts: [{ name: 乙, phone: '13700000102' }] }
`;

let ts: TestServer;
let dir: string;
let file: string;
let feedA: Feed;
let feedB: Feed;
let timer: NodeJS.Timeout;
const volts: Record<string, number> = { zm1: 230, zm2: 230, zm3: 230, zm4: 230, zm5: 230 };
const reading = (device: string) => ({ device, ts: Date.now(), v: { ua: volts[device]!, ub: volts[device]!, uc: volts[device]!, ia: 10, ib: 10, ic: 10 } });

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-outage-reload-'));
  file = path.join(dir, 'topology.yaml');
  const v1 = topology('T1', false);
  await writeFile(file, v1);
  ts = await startTestServer({ mqttUrl: inject('mqttUrl'), topologyYaml: v1, dataDir: path.join(dir, 'data'), extra: { topologyFile: file, alarms: { tickMs: 100 }, outages: { tickMs: 200, liveInsideAfterS: 1 } } });
  feedA = await Feed.open(inject('mqttUrl'), SITE, A);
  feedB = await Feed.open(inject('mqttUrl'), SITE, B);
  // as the agents would, every 200 ms
  timer = setInterval(() => {
    void feedA.publish(['zm1', 'zm2', 'zm3', 'zm4'].map(reading));
    void feedB.publish([reading('zm5')]);
  }, 200);
}, 60_000);
afterAll(async () => {
  clearInterval(timer);
  await feedA?.close();
  await feedB?.close();
  await ts?.close();
  await rm(dir, { recursive: true, force: true });
});

const latest = async (q: string) => ((await (await ts.fetch(`/api/latest?${q}`, { role: 'viewer' })).json()) as { readings: { device: string; site: string; room: string }[] }).readings;
const outages = async () => ((await (await ts.fetch('/api/outages?view=all', { role: 'viewer' })).json()) as { outages: any[] }).outages;
const alarmsOf = async (source: string) => ((await (await ts.fetch('/api/alarms', { role: 'viewer' })).json()) as { alarms: { source: string; active: boolean }[] }).alarms.filter((a) => a.source === source && a.active);
const findings = async (q = '') => ((await (await ts.fetch(`/api/findings${q}`, { role: 'viewer' })).json()) as { findings: any[] }).findings;
const cut = (on: boolean) => (volts.zm2 = volts.zm3 = volts.zm4 = on ? 0 : 230);
const rooms = async () => ((await (await ts.fetch('/api/topology', { role: 'viewer' })).json()) as { sites: { rooms: { id: string }[] }[] }).sites.flatMap((s) => s.rooms.map((r) => r.id));

describe('topology reload without a restart', () => {
  it('moves a meter and adds a room: readings placed, outage attribution follows, a bad file changes nothing', async () => {
    await eventually(async () => (await latest('device=zm2')).length === 1, 15_000, 'the first readings');
    await new Promise((r) => setTimeout(r, 600));
    // the new room's agent is not in the topology yet: its readings are refused
    expect(await latest('device=zm5')).toEqual([]);

    // the model says L1 is under T1; the line goes dark with T2: a finding, resolved, then found again
    for (const round of [1, 2]) {
      cut(true);
      const f = await eventually(async () => (await findings()).find((x) => x.meter === 'zm2' && x.state === 'open'), 20_000, `finding ${round}`);
      expect(f).toMatchObject({ kind: 'dark_outside', modelled: { site: SITE, transformer: 'T1', line: 'L1' }, meterFindings: round });
      cut(false);
      await eventually(async () => (await outages()).every((x) => x.state !== 'active') || undefined, 20_000, `restored ${round}`);
      if (round === 1) expect((await ts.fetch(`/api/findings/${f.id}/resolve`, { method: 'POST', role: 'operator', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ comment: '模型待改' }) })).status).toBe(200);
    }
    expect((await findings()).map((x) => `${x.meter} ${x.state}`)).toEqual(['zm2 open']);
    // zm6 never reports: its comm-loss alarm stands (10 s)
    await eventually(async () => (await alarmsOf('zm6')).length > 0 || undefined, 20_000, "zm6's comm-loss alarm");
    const history = await findings('?history=1');
    expect(history.map((x) => `${x.meter} ${x.state} ${x.meterFindings}`)).toEqual(['zm2 open 2', 'zm2 resolved 2']);
    expect(await findings('?history=1&state=resolved&meter=zm2')).toHaveLength(1);
    const start = Date.now() + 2 * 86_400_000;
    const plan = await ts.fetch('/api/plans', { method: 'POST', role: 'operator', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ scope: [{ kind: 'transformer', site: SITE, transformer: 'T2' }], start, end: start + 3_600_000, reason: '检修' }) });
    expect(plan.status).toBe(201);
    const planId = ((await plan.json()) as { id: string }).id;

    // two errors in one file: both reported, nothing changes
    await writeFile(file, topology('T2', true).replace('meter: zm5', 'meter: zm3').replace('line: L2', 'line: L9'));
    const bad = await ts.fetch('/api/topology/reload', { method: 'POST' });
    expect(bad.status).toBe(400);
    const err = (await bad.json()) as { error: { issues: string[] } };
    expect(err.error.issues.length).toBeGreaterThanOrEqual(2);
    expect(err.error.issues.join('\n')).toMatch(/zm3/);
    expect(err.error.issues.join('\n')).toMatch(/L9/);
    expect(await rooms()).toEqual(['r1']);
    const areas = () => ts.server.energy.areas.map((a) => `${a.room}/${a.transformer}: ${a.salesMeters.join(' ')}`);
    expect(areas()).toEqual(['r1/T1: zm2 zm6', 'r1/T2: zm4']);

    await writeFile(file, topology('T2', true));
    const ok = await ts.fetch('/api/topology/reload', { method: 'POST' });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { layout: Record<string, unknown>; diff: { changed: string[] } };
    expect(body.layout).toMatchObject({ roomsAdded: [`${SITE}/r2`], devicesAdded: ['zm5'], devicesRemoved: ['zm6'], devicesMoved: [{ device: 'zm2', from: `${SITE}/r1/T1/L1`, to: `${SITE}/r1/T2/L1` }] });
    expect(body.diff.changed).toEqual(['K1']);
    expect(await rooms()).toEqual(['r1', 'r2']);
    // the line-loss areas follow: L1's meter now sells under T2, the new room's T3 is an area
    expect(areas()).toEqual(['r1/T1: ', 'r1/T2: zm4 zm2', 'r2/T3: ']);
    // the removed meter has nothing left to judge it
    expect(await alarmsOf('zm6')).toEqual([]);

    // the new room's readings are accepted and placed
    const placed = await eventually(async () => (await latest('device=zm5'))[0], 15_000, 'a reading of the new room');
    expect(placed).toMatchObject({ site: SITE, room: 'r2' });
    // the draft on T2 now counts the moved line's customer
    const p = (await (await ts.fetch(`/api/plans/${planId}`, { role: 'viewer' })).json()) as { customers: number };
    expect(p.customers).toBe(2);

    // T2 cut, the moved line meter with it: one transformer outage with both customers
    const before = (await outages()).length;
    cut(true);
    const o = await eventually(async () => (await outages()).find((x) => x.state === 'active' && x.scope.transformer === 'T2' && x.start > Date.now() - 20_000 && (x.customers === 2 || undefined)), 20_000, "T2's outage after the reload");
    expect(o).toMatchObject({ scope: { kind: 'transformer', site: SITE, transformer: 'T2' }, customers: 2 });
    await new Promise((r) => setTimeout(r, 1500));
    const all = await outages();
    expect(all.filter((x) => x.state === 'active').map((x) => `${x.scope.kind} ${x.scope.transformer}`)).toEqual(['transformer T2']);
    expect(all.length).toBe(before + 1);
    // the model is right now: nothing new found
    expect(await findings('?history=1')).toHaveLength(2);

    // the history is rebuilt from the journal
    await ts.server.stop();
    await ts.server.start();
    expect((await findings('?history=1')).map((x) => `${x.id} ${x.state}`)).toEqual(history.map((x) => `${x.id} ${x.state}`));
  }, 90_000);
});
