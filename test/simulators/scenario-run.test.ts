/** A scenario running: its timeline injects and ends faults on real simulated gateways; faults switch at run time over HTTP; the CLI runs a scenario file. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario, startControlServer, startScenario, type ScenarioRun } from '../../simulators/index.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const dir = mkdtempSync(path.join(os.tmpdir(), 'gw-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scenario run', () => {
  let run: ScenarioRun | undefined;
  afterAll(async () => {
    await run?.stop();
  });

  it('the timeline puts faults in force and ends them when their duration is up', async () => {
    run = await startScenario(
      loadScenario({
        gateways: [{ id: 'gw', tcp: { port: 0 }, units: [{ unit: 1, type: 'sdm630', load: 'feeder' }, { unit: 2, type: 'em24' }] }],
        timeline: {
          events: [
            { atS: 0, gateway: 'gw', unit: 2, fault: { kind: 'dead' }, durationS: 0.6 },
            { atS: 0.4, gateway: 'gw', unit: 1, fault: { kind: 'sag', depth: 0.5 } },
          ],
        },
      }),
    );
    const gw = run.gateways.get('gw')!;
    expect(gw.port).toBeGreaterThan(0);
    expect(gw.unit(2).faults().map((f) => f.fault.kind)).toEqual(['dead']);
    expect(gw.unit(1).faults()).toEqual([]);
    await sleep(700);
    expect(gw.unit(1).faults().map((f) => f.fault)).toEqual([{ kind: 'sag', depth: 0.5 }]);
    expect(gw.unit(1).values().ua).toBeLessThan(120);
    expect(gw.unit(2).faults()).toEqual([]); // 0.6 s are up
    expect(run.timeline.fired()).toBe(2);

    // and switchable at run time over HTTP
    const control = await startControlServer({ gateways: run.gateways }, { port: 0 });
    try {
      const call = (method: string, url: string, body?: unknown) =>
        fetch(control.url + url, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
      let res = await call('POST', '/gateways/gw/units/2/faults', { fault: { kind: 'garbage', mode: 'corrupt', probability: 0.5 }, durationS: 30 });
      expect(res.status).toBe(204);
      const list = (await (await call('GET', '/gateways')).json()) as { gateways: { id: string; units: { unit: number; faults: { kind: string }[] }[] }[] };
      expect(list.gateways[0]!.units.find((u) => u.unit === 2)!.faults).toMatchObject([{ kind: 'garbage', mode: 'corrupt', probability: 0.5 }]);
      res = await call('POST', '/gateways/gw/units/2/faults', { fault: { kind: 'sag', depth: 7 }, extra: 1 });
      expect(res.status).toBe(400);
      const bad = (await res.json()) as { errors: string[] };
      expect(bad.errors.length).toBe(2);
      expect((await call('POST', '/gateways/gw/units/2/override', { ua: 'high', watts: 3 })).status).toBe(400);
      expect((await call('POST', '/gateways/gw/units/2/override', { ua: 199.5 })).status).toBe(204);
      expect(gw.unit(2).values().ua).toBe(199.5);
      expect((await call('DELETE', '/gateways/gw/units/1/faults?kind=sag')).status).toBe(204);
      expect(gw.unit(1).faults()).toEqual([]);
      expect((await call('DELETE', '/gateways/gw/units/2/faults')).status).toBe(204);
      expect((await call('POST', '/gateways/nope/units/1/faults', { fault: { kind: 'dead' } })).status).toBe(404);
      expect((await call('POST', '/gateways/gw/units/9/faults', { fault: { kind: 'dead' } })).status).toBe(404);
      expect((await fetch(`${control.url}/gateways/gw/units/2/faults`, { method: 'POST', body: '{nope' })).status).toBe(400);
      expect((await call('POST', '/sensors/x', { set: { a: 1 } })).status).toBe(404);
    } finally {
      await control.stop();
    }
  });

  it('the CLI runs a scenario file and serves the control API', async () => {
    const file = path.join(dir, 'scenario.yaml');
    writeFileSync(
      file,
      `name: cli test
gateways:
  - id: gw-a
    tcp: { port: 0 }
    units: [{ unit: 1, type: adw300 }, { unit: 2, type: dtsu666, load: feeder }]
timeline:
  events:
    - { atS: 0, gateway: gw-a, unit: 1, fault: { kind: phase_loss, phase: b } }
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'simulators/main.ts', '--scenario', file, '--control-port', '0'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const end = Date.now() + 15_000;
      while (!/fault control API listening/.test(out) && Date.now() < end) await sleep(50);
      const url = /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      const list = (await (await fetch(`${url}/gateways`)).json()) as { gateways: { id: string; units: { unit: number; faults: unknown[] }[] }[] };
      expect(list.gateways[0]).toMatchObject({ id: 'gw-a', units: [{ unit: 1, faults: [{ kind: 'phase_loss', phase: 'b' }] }, { unit: 2, faults: [] }] });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(out).toMatch(/scenario running/);

    // an invalid scenario file: exit 2 with every problem
    writeFileSync(file, 'gateways:\n  - { id: g, tcp: { port: 0 }, units: [{ unit: 0 }] }\ntimeline: { events: [{ atS: 1, gateway: h, unit: 1, fault: { kind: dead } }] }\n');
    const bad = spawn(process.execPath, ['--import', 'tsx', 'simulators/main.ts', '--scenario', file], { cwd: path.resolve(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'pipe'] });
    let badOut = '';
    bad.stdout.on('data', (d: Buffer) => (badOut += d.toString()));
    const code = await new Promise<number | null>((r) => bad.once('exit', r));
    expect(code).toBe(2);
    expect(badOut).toMatch(/gateways\[0\]\.units\[0\]\.unit/);
  });
});

describe('the npm start demo scenario', () => {
  it('is valid against the demo topology: its events name real rooms and units, its sensors are the rooms\' sensors', async () => {
    const { readFile } = await import('node:fs/promises');
    const { parse } = await import('yaml');
    const { loadTopologyFile } = await import('../../server/index.ts');
    const repo = path.resolve(import.meta.dirname, '../..');
    const topo = await loadTopologyFile(path.join(repo, 'config/demo/topology.yaml'));
    const units: Record<string, number[]> = {};
    const roomSensors = new Set<string>();
    for (const site of topo.topology.sites)
      for (const room of site.rooms) {
        const n = room.transformers.reduce((k, t) => k + (t.meter ? 1 : 0) + t.lines.filter((l) => l.meter).length, 0);
        units[room.id] = Array.from({ length: n }, (_, i) => i + 1);
        for (const s of room.sensors) roomSensors.add(s);
      }
    const s = loadScenario(parse(await readFile(path.join(repo, 'config/demo/scenario.yaml'), 'utf8')), { gateways: units, brokerElsewhere: true });
    expect(s.timeline.events.length).toBeGreaterThan(5);
    expect(new Set(s.sensors.map((x) => x.id))).toEqual(roomSensors);
  });
});
