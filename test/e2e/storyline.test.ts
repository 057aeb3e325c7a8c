/**
 * The demo's storyline (config/demo/storyline.yaml) against the real server:
 * `npm start` on the rooms the storyline names (GW_DEMO_ROOMS=storyline),
 * and within two minutes every early event has raised its alarm — the
 * transformer overload, the one-key call, ONE outage for the transformer
 * whose meters all went dark (none of its meters' own), the comm loss, the
 * door (the demo treats every hour as outside working hours), the water
 * leak, the hot transformer (oil and winding, built-in rules) and the
 * frozen meter whose energy register stops while power flows.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateDemoGrid } from '../../scripts/demo-grid.ts';
import { storylineScenario } from '../../scripts/demo-storyline.ts';
import { startDemo, stopDemo, type Demo } from '../support/demo.ts';
import { login } from '../support/server.ts';

const PASSWORD = 'storyline-test-password-1';
let dataDir = '';
let demo: Demo | undefined;

interface Alarm {
  id: string;
  ruleId: string;
  source: string;
  state: string;
  message?: string;
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'gw-storyline-'));
});
afterAll(async () => {
  if (demo) await stopDemo(demo);
  await rm(dataDir, { recursive: true, force: true });
});

interface PoolOutage {
  id: string;
  cause: string;
  planId?: string;
  customers: number;
  /** `site/transformer` of every transformer it covers (a feeder outage: all of them) */
  transformers: string[];
}

/** Polls the pool until the storyline's plan, its planned outage, the fault outage and the linked repair call are all there. */
async function poolStory(url: string, cookie: string, started: number): Promise<void> {
  const get = async <T>(p: string): Promise<T> => {
    const res = await fetch(`${url}${p}`, { headers: { cookie } });
    expect(res.status, p).toBe(200);
    return (await res.json()) as T;
  };
  let seen = '';
  // the planned cut starts at 95 s
  while (Date.now() - started < 240_000) {
    const { plans } = await get<{ plans: Array<{ id: string; state: string; customers: number; noticeSummary: { delivered: number; read: number; failed: number } }> }>('/api/plans?view=all');
    const { outages } = await get<{ outages: PoolOutage[] }>('/api/outages?view=all');
    const { tickets } = await get<{ tickets: Array<{ customer?: string; verdict: string; outageId?: string }> }>('/api/tickets');
    const plan = plans[0];
    // with only the storyline's rooms running, t-302-2 is the one transformer left on its feeder: the outage may be the feeder's
    const fault = outages.find((o) => o.cause === 'fault' && o.transformers.includes('s3/t-302-2'));
    const planned = outages.find((o) => o.transformers.includes('s1/t-104-1'));
    const call = tickets.find((t) => t.customer === 'c-302-2-1-h1');
    seen = JSON.stringify({ plans, outages, tickets });
    if (plan && plan.noticeSummary.delivered + plan.noticeSummary.read > 0 && fault && planned && call) {
      expect(plans).toHaveLength(1);
      expect(['notified', 'in_progress', 'done']).toContain(plan.state);
      expect(plan.customers).toBeGreaterThan(10);
      expect(planned.cause).toBe('planned');
      expect(planned.planId).toBe(plan.id);
      expect(fault.customers).toBeGreaterThan(10);
      expect(call).toMatchObject({ verdict: 'linked', outageId: fault.id });
      const { alarms } = await get<{ alarms: Alarm[] }>('/api/alarms');
      // the planned cut raises no outage alarm that anyone has to handle
      expect(alarms.filter((a) => a.source === 's1/t-104-1' && a.state !== 'suppressed' && a.state !== 'normal')).toEqual([]);
      return;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`the outage pool did not show the storyline's plan, outages and repair call: ${seen.slice(0, 2000)}`);
}

describe('the demo storyline', () => {
  it('names only things the generated grid has', async () => {
    const doc = parse(await readFile(path.resolve('config/demo/storyline.yaml'), 'utf8')) as unknown;
    const s = storylineScenario(doc, generateDemoGrid({ seed: 1 }));
    expect(s.timeline.repeatS).toBeGreaterThan(120);
    // a room that does not exist is refused with its path
    expect(() => storylineScenario({ events: [{ atS: 1, call: { room: 'r-999' } }, { atS: 2, transformer: 't-0', fault: { kind: 'outage' } }] }, generateDemoGrid())).toThrow(
      /events\[1\]\.transformer: no transformer "t-0"/,
    );
    // a plan or a repair call naming what the grid does not have is refused with its path
    expect(() =>
      storylineScenario({ events: [{ atS: 1, plan: { transformer: 't-9', startS: 10, durationS: 10, reason: 'x' } }, { atS: 2, ticket: { customer: 'c-none', text: '停电' } }] }, generateDemoGrid()),
    ).toThrow(/events\[0\]\.plan\.transformer: no transformer "t-9"[\s\S]*events\[1\]\.ticket\.customer: no customer "c-none"/);
  });

  it('raises every early event\'s alarm within two minutes of the start', { timeout: 360_000 }, async () => {
    demo = await startDemo({ GW_DATA_DIR: dataDir, GW_ADMIN_PASSWORD: PASSWORD, GW_DEMO_ROOMS: 'storyline', GW_DEMO_MODBUS_BASE_PORT: '0' });
    const started = Date.now();
    const cookie = await login(demo.url, 'admin', PASSWORD);
    const want: Record<string, (a: Alarm) => boolean> = {
      'door open in r-102': (a) => a.ruleId === 'door-open' && a.source === 'door-102',
      'transformer overload t-101-1': (a) => a.ruleId === 'tx-load' && a.source === 'm-101-t1',
      'one-key call from r-203': (a) => a.ruleId === 'call' && a.source.includes('s2'),
      'outage of t-302-2': (a) => a.ruleId === 'outage' && a.source === 's3/t-302-2',
      'comm loss of m-404-l12': (a) => a.ruleId === 'comm-loss' && a.source === 'm-404-l12',
      'water in r-201': (a) => a.ruleId === 'water' && a.source === 'water-201',
      'oil temperature of r-106 over its limit': (a) => a.ruleId === 't-oil' && a.source === 'txt-106' && a.message?.includes('hihi') === true,
      'winding temperature of r-106': (a) => a.ruleId === 't-winding' && a.source === 'txt-106',
      'energy register of m-205-t1 stuck': (a) => a.ruleId === 'meter-counter-stuck' && a.source === 'm-205-t1',
    };
    let alarms: Alarm[] = [];
    let missing = Object.keys(want);
    // the storyline's last early event starts at 70 s; the overload needs its ramp and the 30-s on-delay
    while (Date.now() - started < 150_000) {
      const res = await fetch(`${demo.url}/api/alarms`, { headers: { cookie } });
      expect(res.status).toBe(200);
      alarms = ((await res.json()) as { alarms: Alarm[] }).alarms;
      missing = Object.entries(want)
        .filter(([, f]) => !alarms.some(f))
        .map(([k]) => k);
      if (missing.length === 0) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(missing, JSON.stringify(alarms.map((a) => `${a.ruleId}:${a.source}`))).toEqual([]);
    // one outage for the transformer, none for its meters one by one
    expect(alarms.filter((a) => a.ruleId === 'outage' && a.source !== 's1/t-104-1').map((a) => a.source)).toEqual(['s3/t-302-2']);
    await poolStory(demo.url, cookie, started);
    expect(demo.lines().some((l) => l.includes('one-key call pressed'))).toBe(true);
    expect(await stopDemo(demo)).toBe(0);
    demo = undefined;
  });
});
