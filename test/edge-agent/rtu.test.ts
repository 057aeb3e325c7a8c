/**
 * Modbus RTU on a serial line: the agent on one end of a socat pty pair, the
 * RTU simulator (every meter on the bus) on the other. Same rules as TCP:
 * values decode, a dead unit is comm_loss alone and backs off, broken frames
 * are counted and never crash anything; and only read function codes go out.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../contract/index.ts';
import { ConfigError, createAgent, createProfileRegistry, loadAgentConfig, type DeviceProfile } from '../../edge-agent/index.ts';
import { createMeterModel, registerMapOf, startModbusRtuSimulator, type ModbusRtuSimulator } from '../../simulators/index.ts';
import { testLog } from '../support/logger.ts';
import { serialPair, sleep, spawnAgent, spoolOnlyAgent, tmpDir, waitFor } from './support.ts';

const work = tmpDir('gw-rtu-');
let pair: Awaited<ReturnType<typeof serialPair>>;
let sim: ModbusRtuSimulator;

beforeAll(async () => {
  pair = await serialPair(work.dir);
  sim = await startModbusRtuSimulator({
    path: pair.b,
    baudRate: 115_200,
    units: [
      { unitId: 1, model: createMeterModel({ profile: 'feeder', seed: 1 }), registerMap: registerMapOf('dtsu666') },
      { unitId: 2, model: createMeterModel({ profile: 'residential', seed: 2 }), registerMap: registerMapOf('sdm630') },
      { unitId: 3, model: createMeterModel({ profile: 'commercial', seed: 3 }), registerMap: registerMapOf('adw300') },
    ],
  });
});
afterAll(async () => {
  await sim?.stop();
  await pair?.close();
  work.remove();
});

// timeouts sized for a loaded 2-core CI machine: the simulator shares the test's event loop
const TIMEOUT_MS = 300;
function rtuAgent(intervalMs = 300, extra: Record<string, unknown> = {}) {
  const transport = { kind: 'rtu' as const, path: pair.a, baudRate: 115_200 };
  const { agent, spool, lines, readings: kept } = spoolOnlyAgent({
    agent: 'rtu-agent',
    devices: [
      { id: 'dtsu', profile: 'dtsu666', transport, unitId: 1, intervalMs, timeoutMs: TIMEOUT_MS, backoffMaxMs: 800, ...extra },
      { id: 'sdm', profile: 'sdm630', transport, unitId: 2, intervalMs, timeoutMs: TIMEOUT_MS, backoffMaxMs: 800, ...extra },
      { id: 'adw', profile: 'adw300', transport, unitId: 3, intervalMs, timeoutMs: TIMEOUT_MS, backoffMaxMs: 800, ...extra },
    ],
  });
  const readings = (device?: string): Reading[] => kept((r) => device === undefined || r.device === device);
  return { agent, spool, lines, readings };
}

describe('Modbus RTU over a serial line', () => {
  it('reads three meter types sharing one bus, values exact', async () => {
    sim.setOverride(1, { ua: 231.4, ia: 105.25, p: 71.2 });
    sim.setOverride(2, { ua: 229.8, ia: 10.5, p: 7.2491 });
    sim.setOverride(3, { ua: 229.7, ia: 12.34, p: 0.2 });
    const { agent, readings } = rtuAgent();
    await agent.start();
    try {
      await waitFor('three readings each', () => ['dtsu', 'sdm', 'adw'].every((d) => readings(d).length >= 3), 10_000);
    } finally {
      await agent.stop();
    }
    expect(readings('dtsu').every((r) => r.q === 'good' && r.v.ua === 231.4 && r.v.ia === 105.25 && r.v.p === 71.2)).toBe(true);
    expect(readings('sdm').every((r) => r.q === 'good' && r.v.ua === 229.8 && r.v.ia === 10.5 && r.v.p === 7.2491)).toBe(true);
    expect(readings('adw').every((r) => r.q === 'good' && r.v.ua === 229.7 && r.v.ia === 12.34 && r.v.p === 0.2)).toBe(true);
    expect(agent.stats().connections[`rtu://${pair.a}`]).toMatchObject({ connects: 1, failed: 0 });
    for (const u of [1, 2, 3]) sim.clearOverride(u);
  });

  it('a dead unit on the bus is comm_loss alone and backs off; the others keep their schedule within one timeout', async () => {
    sim.setDead(2, true);
    const { agent, readings, lines } = rtuAgent(300);
    await agent.start();
    try {
      await sleep(4000);
    } finally {
      await agent.stop();
      sim.setDead(2, false);
    }
    const dead = readings('sdm');
    expect(dead.length).toBeGreaterThan(0);
    expect(dead.every((r) => r.q === 'comm_loss' && Object.keys(r.v).length === 0)).toBe(true);
    // backed off: far fewer polls than the 13 a 300 ms interval would give in 4 s
    expect(dead.length).toBeLessThanOrEqual(8);
    expect(agent.stats().devices.sdm!.errors.GW_ERR_MODBUS_TIMEOUT).toBe(dead.length);
    for (const id of ['dtsu', 'adw']) {
      const rs = readings(id);
      // 13 slots in 4 s; a poll that waited behind the dead unit may skip one (fixed-rate schedule)
      expect(rs.length).toBeGreaterThanOrEqual(9);
      // good, but for a rare timeout of its own when the test machine stalls (2 cores, browsers next door)
      expect(rs.filter((r) => r.q === 'good').length, id).toBeGreaterThanOrEqual(rs.length - 1);
      // fixed-rate schedule: a poll may wait behind the dead unit's timeout on the shared line, never more
      for (let i = 1; i < rs.length; i++) expect(rs[i]!.ts - rs[i - 1]!.ts, id).toBeLessThanOrEqual(300 + TIMEOUT_MS + 60);
      // measured directly: the slowest poll is one timeout (the dead unit ahead of it) plus its own read — never two
      // timeouts; the read itself shares the event loop with the simulator, so its time is not bounded tighter here
      expect(agent.stats().devices[id]!.slowestPollMs, id).toBeLessThan(2 * TIMEOUT_MS);
    }
    expect(lines.filter((l) => l.msg === 'device state changed' && l.deviceId === 'sdm').map((l) => l.to)).toEqual(['comm_loss']);
  });

  it('broken frames on the bus (bad CRC, noise, a stranger\'s answer, cut short) are counted per device and never crash the agent', async () => {
    const { agent, readings, lines } = rtuAgent(150);
    await agent.start();
    try {
      for (const mode of ['corrupt', 'random', 'wrong_unit', 'truncated', 'wrong_function'] as const) {
        sim.setFault(1, { kind: 'garbage', mode });
        await sleep(700);
      }
      sim.clearFault(1);
      const before = readings('dtsu').length;
      await waitFor('good again after the garbage', () => readings('dtsu').slice(before).some((r) => r.q === 'good'), 5000);
    } finally {
      await agent.stop();
      sim.clearFault(1);
    }
    const st = agent.stats().devices.dtsu!;
    // a bad CRC is a response error; noise, another unit's or function's answer and a cut frame end in the timeout
    expect(st.errors.GW_ERR_MODBUS_RESPONSE ?? 0).toBeGreaterThanOrEqual(1);
    expect(st.errors.GW_ERR_MODBUS_TIMEOUT ?? 0).toBeGreaterThanOrEqual(1);
    expect(st.commLoss).toBe((st.errors.GW_ERR_MODBUS_RESPONSE ?? 0) + (st.errors.GW_ERR_MODBUS_TIMEOUT ?? 0));
    // never a wrong value: every good reading of the meter is plausible
    for (const r of readings('dtsu').filter((x) => x.q === 'good')) expect(r.v.ua!).toBeGreaterThan(200);
    // the other meters on the bus hardly noticed: a late broken answer can land in the next unit's exchange
    // (a shared RS-485 line, and a test machine whose event loop stalls), which then fails its CRC,
    // unit or function check and is comm_loss — never a wrong value
    const sdm = readings('sdm');
    expect(sdm.filter((r) => r.q === 'good').length).toBeGreaterThanOrEqual(sdm.length * 0.8);
    for (const r of sdm) {
      if (r.q === 'good') expect(r.v.ua!).toBeGreaterThan(200);
      else expect(r.v).toEqual({});
    }
    // logged per state change, not per bad frame
    const changes = lines.filter((l) => l.msg === 'device state changed' && l.deviceId === 'dtsu');
    expect(changes.length).toBeLessThanOrEqual(2 * 5 + 1);
    expect(changes.length).toBeLessThan(st.commLoss);
    expect(sim.stats().garbage).toBeGreaterThanOrEqual(5);
  });
});

describe('only read function codes', () => {
  it('a profile asking for a write function code is refused at start: by the schema, and by createAgent for a registry built around it', async () => {
    const file = path.join(work.dir, 'writer.yaml');
    writeFileSync(file, 'id: writer\nregisters:\n  - { quantity: ua, address: 0, fc: 6, type: uint16 }\n');
    const cfg = path.join(work.dir, 'agent.yaml');
    writeFileSync(
      cfg,
      `agent: a\nsite: s\nmqtt: { url: "mqtt://127.0.0.1:1" }\nprofileFiles: [writer.yaml]\ndevices:\n  - { id: m, profile: writer, transport: { kind: rtu, path: ${pair.a} }, unitId: 1 }\n`,
    );
    const p = spawnAgent(cfg);
    const exit = await p.exited;
    expect(exit.code).toBe(2);
    expect(p.output()).toMatch(/function code 6 is not allowed: the agent only sends read function codes 1–4/);

    // a registry that skipped validation (a cast from outside) is caught before any I/O
    const good = createProfileRegistry().get('dtsu666')!;
    const forged = { ...good, id: 'forged', registers: [{ ...good.registers[0]!, fc: 16 }] } as unknown as DeviceProfile;
    const registry = new Map([...createProfileRegistry(), ['forged', forged]]);
    const config = loadAgentConfig(
      { agent: 'a', site: 's', mqtt: { url: 'mqtt://b' }, devices: [{ id: 'm', profile: 'forged', transport: { kind: 'tcp', host: 'h', port: 502 }, unitId: 1 }] },
      { profiles: registry },
    );
    expect(() => createAgent(config, { log: testLog, profiles: registry })).toThrow(ConfigError);
    expect(() => createAgent(config, { log: testLog, profiles: registry })).toThrow(/function code 16; only 1–4 are ever sent/);
  });
});
