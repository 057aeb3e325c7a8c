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

describe('the demo storyline', () => {
  it('names only things the generated grid has', async () => {
    const doc = parse(await readFile(path.resolve('config/demo/storyline.yaml'), 'utf8')) as unknown;
    const s = storylineScenario(doc, generateDemoGrid({ seed: 1 }));
    expect(s.timeline.repeatS).toBeGreaterThan(120);
    // a room that does not exist is refused with its path
    expect(() => storylineScenario({ events: [{ atS: 1, call: { room: 'r-999' } }, { atS: 2, transformer: 't-0', fault: { kind: 'outage' } }] }, generateDemoGrid())).toThrow(
      /events\[1\]\.transformer: no transformer "t-0"/,
    );
  });

  it('raises every early event\'s alarm within two minutes of the start', { timeout: 300_000 }, async () => {
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
    expect(alarms.filter((a) => a.ruleId === 'outage').map((a) => a.source)).toEqual(['s3/t-302-2']);
    expect(demo.lines().some((l) => l.includes('one-key call pressed'))).toBe(true);
    expect(await stopDemo(demo)).toBe(0);
    demo = undefined;
  });
});
