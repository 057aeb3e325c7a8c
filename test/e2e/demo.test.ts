/**
 * `npm start` (scripts/run-all.ts) as a user runs it: the whole demo comes up
 * on embedded defaults with its agents streaming, Ctrl-C stops every part and
 * the process exits 0; started again on the same data, it shows no alarm
 * about its own agents having gone away (the server stops first, so it never
 * sees them go), and the agents hand over what they spooled meanwhile.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateDemoGrid } from '../../scripts/demo-grid.ts';
import { StorylineSchema, storylineRooms } from '../../scripts/demo-storyline.ts';
import { startDemo as start, stopDemo, type Demo } from '../support/demo.ts';
import { login } from '../support/server.ts';

const PASSWORD = 'demo-test-password-1';
let dataDir = '';
// the demo's gateways listen on consecutive ports from this one (the first rooms' Modbus gateways, then their DL/T 645 ones);
// below Linux's ephemeral range (32768 and up), where the other tests' servers get their ports from port 0
const modbusBase = 10_000 + Math.floor(Math.random() * 20_000);
// the first four rooms and the storyline's: Modbus and DL/T 645 meters, every kind of room sensor
const ROOMS = '4';

/** the rooms GW_DEMO_ROOMS=4 starts: the first four and the storyline's */
async function demoRoomCount(): Promise<number> {
  const grid = generateDemoGrid({ seed: 1 });
  const story = storylineRooms(StorylineSchema.parse(parse(await readFile(path.resolve('config/demo/storyline.yaml'), 'utf8'))), grid);
  return grid.rooms.filter((r, i) => i < Number(ROOMS) || story.has(r.id)).length;
}

const startDemo = (): Promise<Demo> => start({ GW_DEMO_MODBUS_BASE_PORT: String(modbusBase), GW_DATA_DIR: dataDir, GW_ADMIN_PASSWORD: PASSWORD, GW_DEMO_ROOMS: ROOMS });

async function getJson<T>(d: Demo, cookie: string, p: string): Promise<T> {
  const res = await fetch(`${d.url}${p}`, { headers: { cookie } });
  expect(res.status, p).toBe(200);
  return (await res.json()) as T;
}

/** until every agent of the demo has a watermark past `after` (the server stored its readings) */
async function agentsStreaming(d: Demo, cookie: string, after: Record<string, number> = {}): Promise<Record<string, number>> {
  const expected = await demoRoomCount();
  for (let i = 0; i < 200; i++) {
    const h = await getJson<{ agents: Record<string, { state: string | null; watermark: number | null }> }>(d, cookie, '/api/health');
    const marks = Object.fromEntries(Object.entries(h.agents).map(([a, s]) => [a, s.watermark ?? -1]));
    const names = Object.keys(marks).filter((a) => a.startsWith('room-'));
    if (names.length === expected && names.every((a) => marks[a]! > (after[a] ?? -1))) return marks;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('the demo agents did not stream');
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'gw-demo-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start (the whole demo)', () => {
  it('starts, streams, stops on Ctrl-C without alarming about its own agents, and starts again where it left off', { timeout: 150_000 }, async () => {
    const first = await startDemo();
    let stopped = false;
    try {
      const cookie = await login(first.url, 'admin', PASSWORD);
      const marks = await agentsStreaming(first, cookie);
      expect(await stopDemo(first)).toBe(0);
      stopped = true;
      const lines = first.lines();
      const from = lines.findIndex((l) => l.includes('stopping gridwatch'));
      expect(from).toBeGreaterThan(-1);
      expect(lines.at(-1)).toContain('all parts stopped');
      // nothing raised while the parts went down one after another
      expect(lines.slice(from).filter((l) => l.includes('alarm transition'))).toEqual([]);

      const second = await startDemo();
      try {
        const cookie2 = await login(second.url, 'admin', PASSWORD);
        // every agent is back and its watermark moves on from where the first run's stopped
        await agentsStreaming(second, cookie2, marks);
        const { alarms } = await getJson<{ alarms: Array<{ ruleId: string; source: string; state: string }> }>(second, cookie2, '/api/alarms');
        expect(alarms.filter((a) => a.ruleId.includes('comm-loss') || a.source.startsWith('room-'))).toEqual([]);
      } finally {
        expect(await stopDemo(second)).toBe(0);
      }
    } finally {
      if (!stopped) await stopDemo(first);
    }
  });
});
