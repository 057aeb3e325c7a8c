/**
 * The `dlt645` config section (every problem at once, with its path) and
 * discovery from the command line against the simulator: 13H on a bus with
 * one meter, the garble of several reported as such, probing an address
 * range over TCP and over a serial line.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, createAgent, loadAgentConfig, MemorySpool, parseAddressList } from '../../edge-agent/index.ts';
import { createMeterModel, startDlt645Simulator, type Dlt645SimTransport } from '../../simulators/index.ts';
import { REPO, serialPair, spawnAgent, tmpDir, waitFor } from '../edge-agent/support.ts';
import { testLog } from '../support/logger.ts';

const base = { agent: 'a', site: 's', mqtt: { url: 'mqtt://127.0.0.1:1' } };

function issues(doc: unknown): readonly string[] {
  try {
    loadAgentConfig(doc);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('dlt645 config', () => {
  it('defaults: 2400 8E1, four FE bytes, 5 s interval; a YAML number address is padded back to 12 digits', () => {
    const c = loadAgentConfig({ ...base, dlt645: { devices: [{ id: 'm', profile: 'dlt645-3p', address: 1, transport: { kind: 'serial', path: '/dev/ttyUSB0' } }] } });
    expect(c.dlt645!.devices[0]).toEqual({
      id: 'm', profile: 'dlt645-3p', address: '000000000001', intervalMs: 5000, timeoutMs: 1000, backoffMaxMs: 30_000,
      transport: { kind: 'serial', path: '/dev/ttyUSB0', baudRate: 2400, dataBits: 8, parity: 'even', stopBits: 1, preamble: 4 },
    });
    expect(c.devices).toEqual([]);
  });

  it('reports every problem with its path', () => {
    expect(
      issues({
        ...base,
        devices: [{ id: 'x', profile: 'dtsu666', transport: { kind: 'rtu', path: '/dev/ttyS1' }, unitId: 1 }],
        dlt645: {
          devices: [
            { id: 'x', profile: 'dlt645-3p', address: '12345', transport: { kind: 'tcp', host: 'gw', port: 8899 } },
            { id: 'b', profile: 'nope', address: '000000000002', transport: { kind: 'serial', path: '/dev/ttyS1', baudRate: 115200 } },
            { id: 'c', profile: 'dlt645-3p', address: '000000000003', transport: { kind: 'serial', path: '/dev/ttyS2' } },
            { id: 'd', profile: 'dlt645-3p', address: 3, transport: { kind: 'serial', path: '/dev/ttyS2', parity: 'none' } },
            { id: 'e', profile: 'dlt645-3p', address: '000000000004', transport: { kind: 'tcp', host: 'gw', port: 8899, preamble: 5 } },
          ],
          timeSync: { intervalMs: 1000 },
        },
      }),
    ).toEqual([
      'dlt645.devices[0].address: must be the 12 digits on the meter plate, e.g. "000012345678"',
      'dlt645.devices[1].transport.baudRate: must be one of 1200, 2400, 4800, 9600, 19200',
      'dlt645.devices[4].transport.preamble: Too big: expected number to be <=4',
      'dlt645.timeSync.intervalMs: Too small: expected number to be >=60000',
      'dlt645.devices[0].id: "x" is also devices[0]',
      'dlt645.devices[1].profile: unknown DL/T 645 profile "nope" (known: dlt645-3p, dlt645-3p-single)',
      'dlt645.devices[1].transport.path: /dev/ttyS1 is also a Modbus RTU line in devices; one line speaks one protocol',
      'dlt645.devices[3].address: 000000000003 is already dlt645.devices[2] on the same bus',
      'dlt645.devices[3].transport: the bus serial:///dev/ttyS2 has other settings at dlt645.devices[2] (baudRate, dataBits, parity, stopBits, frameGapMs and preamble must agree)',
      'dlt645.devices[4].transport: the bus tcp://gw:8899 has other settings at dlt645.devices[0] (frameGapMs and preamble must agree)',
    ]);
  });

  it('an agent with only DL/T 645 meters is an agent; an empty section is not', () => {
    expect(issues({ ...base, dlt645: { devices: [] } })).toEqual([
      'dlt645.devices: Too small: expected array to have >=1 items',
      'devices: an agent needs at least one device (Modbus, room equipment under room.devices, or DL/T 645 meters under dlt645.devices)',
    ]);
  });

  it("profiles of the agent's own: checked like the built-ins, every problem with its path", () => {
    expect(
      issues({
        ...base,
        dlt645: {
          profiles: [
            { id: 'vendor', reads: [{ di: '04000101', quantities: ['ua'] }, { di: '02800002', quantities: ['f'] }, { di: '02800002', quantities: ['f'] }] },
            { id: 'bad', reads: [{ di: '0201', quantities: ['ua'] }] },
          ],
          devices: [{ id: 'm', profile: 'vendor', address: '000000000001', transport: { kind: 'tcp', host: 'gw', port: 8899 } }, { id: 'n', profile: 'bad', address: '000000000002', transport: { kind: 'tcp', host: 'gw', port: 8899 } }],
        },
      }),
    ).toEqual([
      'dlt645.profiles[1].reads[0].di: must be 8 hex digits (DI3 DI2 DI1 DI0), e.g. "02010100"',
      "dlt645.profiles[0].reads[0]: identifier 04000101 is not in the standard's table this agent knows; give bytes, decimals and signed",
      'dlt645.profiles[0].reads[2].quantities[0]: "f" is already read by reads[1]',
      'dlt645.devices[0].profile: unknown DL/T 645 profile "vendor" (known: dlt645-3p, dlt645-3p-single)',
      'dlt645.devices[1].profile: unknown DL/T 645 profile "bad" (known: dlt645-3p, dlt645-3p-single)',
    ]);
  });

  it("a profile of the agent's own reads the meter: identifiers the built-ins leave out, a vendor one with its format", async () => {
    const sim = await startDlt645Simulator({ transport: { kind: 'tcp', port: 0 }, meters: [{ address: '000000000007', model: createMeterModel({ profile: 'residential', seed: 7 }) }] });
    cleanup.push(() => sim.stop());
    sim.setOverride('000000000007', { s: 12.3456, in: 1.5, f: 49.98 });
    const spool = new MemorySpool({ initialSeq: 0 });
    const agent = createAgent(
      loadAgentConfig({
        ...base,
        dlt645: {
          profiles: [
            {
              id: 'extras',
              reads: [
                { di: '02050000', quantities: ['s'] },
                { di: '02800001', quantities: ['in'] },
                // frequency read as if it were a vendor identifier whose format the profile gives
                { di: '02800002', quantities: ['f'], bytes: 2, decimals: 2, signed: false },
              ],
            },
          ],
          devices: [{ id: 'x', profile: 'extras', address: '000000000007', transport: { kind: 'tcp', host: '127.0.0.1', port: sim.port }, intervalMs: 200, timeoutMs: 500 }],
        },
      }),
      { log: testLog, spool },
    );
    cleanup.push(() => agent.stop());
    await agent.start();
    await waitFor('a reading', () => spool.read(0, 100).some((r) => r.device === 'x'), 10_000);
    await agent.stop();
    expect(spool.read(0, 100).find((r) => r.device === 'x')).toMatchObject({ q: 'good', v: { s: 12.3456, in: 1.5, f: 49.98 } });
  });

  it('the agent process (edge-agent/main.ts) takes a YAML config with DL/T 645 meters and reads them', async () => {
    const sim = await startDlt645Simulator({ transport: { kind: 'tcp', port: 0 }, meters: [{ address: '000000000001', model: createMeterModel({ profile: 'residential', seed: 1 }) }] });
    cleanup.push(() => sim.stop());
    const work = tmpDir('gw-645-yaml-');
    cleanup.push(async () => work.remove());
    const file = path.join(work.dir, 'agent.yaml');
    // the address as YAML reads it unquoted: the number 1, padded back to 12 digits
    writeFileSync(
      file,
      `agent: y645\nsite: s\nmqtt: { url: "mqtt://127.0.0.1:1" }\ndlt645:\n  devices:\n    - { id: m, profile: dlt645-3p, address: 000000000001, transport: { kind: tcp, host: 127.0.0.1, port: ${sim.port} }, intervalMs: 500 }\n`,
    );
    const p = spawnAgent(file);
    cleanup.push(async () => {
      p.child.kill('SIGTERM');
      await p.exited;
    });
    // a process of its own, started through tsx: slow on a loaded machine
    // the first-poll summary: the one meter answered (a meter's first good answer itself is logged at debug only)
    await waitFor('the meter polled good', () => /"devices":1,"good":1,"notAnswering":\[\],.*"msg":"every device polled once"/.test(p.output()), 45_000);
    expect(p.output()).toMatch(/"devices":1.*"msg":"edge agent started"/);
    expect(sim.stats().requests).toBeGreaterThanOrEqual(11);
  });

  it('address lists and ranges', () => {
    expect(parseAddressList('1-3,000012345678')).toEqual(['000000000001', '000000000002', '000000000003', '000012345678']);
    expect(() => parseAddressList('5-1')).toThrow(/backwards/);
    expect(() => parseAddressList('1-20000')).toThrow(/more than 10000/);
    expect(() => parseAddressList('abc')).toThrow(/up to 12 digits/);
  });
});

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function discover(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'edge-agent/discover.ts'), ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, err })));
}

async function sim(transport: Dlt645SimTransport, addresses: string[]) {
  const s = await startDlt645Simulator({ transport, meters: addresses.map((address, i) => ({ address, model: createMeterModel({ profile: 'residential', seed: i + 1 }) })) });
  cleanup.push(() => s.stop());
  return s;
}

describe('discover (edge-agent/discover.ts)', () => {
  it('13H on a bus with one meter gives its address', async () => {
    const s = await sim({ kind: 'tcp', port: 0 }, ['000012345678']);
    const r = await discover(['--dlt645', `127.0.0.1:${s.port}`]);
    expect(r.code).toBe(0);
    expect(r.out).toContain('found 000012345678 (answered 13H)');
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toEqual({ bus: `tcp://127.0.0.1:${s.port}`, method: 'read-address', result: 'found', found: ['000012345678'] });
  });

  it('13H with several meters on the bus: reported as a garble, not as an address', async () => {
    const s = await sim({ kind: 'tcp', port: 0 }, ['000000000001', '000000000002', '000000000003']);
    const r = await discover(['--dlt645', `127.0.0.1:${s.port}`]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^garbled: .*probe a list of addresses/m);
    expect(s.stats().collisions).toBe(1);
  });

  it('probing a range over a serial line lists who answers; a dead meter is absent', async () => {
    const work = tmpDir('gw-645-disc-');
    cleanup.push(async () => work.remove());
    const pair = await serialPair(work.dir);
    cleanup.push(() => pair.close());
    const s = await sim({ kind: 'serial', path: pair.b, baudRate: 9600 }, ['000000000002', '000000000003', '000000000005']);
    s.setDead('000000000003', true);
    const r = await discover(['--dlt645', pair.a, '--baud', '9600', '--addresses', '1-6', '--timeout-ms', '300']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').at(-1)!)).toEqual({ bus: `serial://${pair.a}`, method: 'probe', probed: 6, found: ['000000000002', '000000000005'] });
    expect(r.out).toContain('absent 000000000003: no answer');
  });

  it('bad arguments exit 2 with the reason and the usage; --help prints it; a bus that cannot be opened exits 3', async () => {
    const bad = await discover(['--dlt645', '/dev/null', '--baud', '1234']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--baud: one of 1200, 2400, 4800, 9600, 19200, got 1234');
    const unknown = await discover(['--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('usage: tsx edge-agent/discover.ts');
    const help = await discover(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: tsx edge-agent\/discover.ts --dlt645/);
    const none = await discover(['--dlt645', '/nonexistent/tty']);
    expect(none.code).toBe(3);
    expect(none.err).toMatch(/GW_ERR_DLT645_CONNECT: cannot open serial:\/\/\/nonexistent\/tty/);
  });
});
