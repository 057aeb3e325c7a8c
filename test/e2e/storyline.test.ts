/**
 * The demo's storyline (config/demo/storyline.yaml) names only what the
 * generated grid has, and a storyline naming something the grid lacks is
 * refused with the event's path. The storyline run live (`npm start` with
 * GW_DEMO_ROOMS=storyline: every early event raises its alarm within two
 * minutes, the outage pool shows the plan, the outages and the repair call)
 * is checked in test/browser/demo.test.ts, on the one demo that file starts
 * for the browser as well.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateDemoGrid } from '../../scripts/demo-grid.ts';
import { storylineScenario } from '../../scripts/demo-storyline.ts';

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
});
