/**
 * The agent against a misbehaving Modbus TCP gateway: broken
 * frames of every shape, exception answers, slow answers and a dead unit.
 * Each is counted per device, logged once per state change, never crashes
 * the agent, and never delays the other units on the gateway beyond one
 * timeout. The agent's broker is not there: readings stay in its spool,
 * which the test reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../contract/index.ts';
import { createMeterModel, GARBAGE_MODES, startModbusSimulator, type ModbusSimulator } from '../../simulators/index.ts';
import { sleep, spoolOnlyAgent, waitFor } from './support.ts';

const INTERVAL = 200;
const TIMEOUT = 150;
let sim: ModbusSimulator;

beforeAll(async () => {
  sim = await startModbusSimulator({
    port: 0,
    units: [1, 2, 3, 4].map((u) => ({ unitId: u, model: createMeterModel({ profile: 'commercial', seed: u }) })),
  });
});
afterAll(async () => {
  await sim.stop();
});

function gatewayAgent(intervalMs = INTERVAL, timeoutMs = TIMEOUT) {
  const devices = [1, 2, 3, 4].map((u) => ({
    id: `m${u}`,
    profile: 'dtsu666',
    transport: { kind: 'tcp' as const, host: '127.0.0.1', port: sim.port },
    unitId: u,
    intervalMs,
    timeoutMs,
    backoffMaxMs: 800,
  }));
  const { agent, spool, lines, readings: kept } = spoolOnlyAgent({ agent: 'hostile', devices });
  const readings = (device: string, from = 0): Reading[] => kept((r) => r.device === device && r.seq >= from);
  return { agent, spool, lines, readings };
}

/** Consecutive poll timestamps of a device never further apart than interval + one timeout (+ scheduling slack). */
function onSchedule(rs: readonly Reading[]): number {
  let worst = 0;
  for (let i = 1; i < rs.length; i++) worst = Math.max(worst, rs[i]!.ts - rs[i - 1]!.ts);
  return worst;
}

describe('hostile gateway', () => {
  it('a dead unit: comm_loss alone, backed off; the other units stay within one timeout of their schedule', async () => {
    // sized for a loaded 2-core machine: one timeout (300) must stay clearly apart from two (600)
    const interval = 300;
    const timeout = 300;
    const { agent, readings } = gatewayAgent(interval, timeout);
    sim.setDead(2, true);
    await agent.start();
    try {
      await sleep(4000);
    } finally {
      await agent.stop();
      sim.setDead(2, false);
    }
    expect(readings('m2').every((r) => r.q === 'comm_loss')).toBe(true);
    // backed off: far fewer polls than the 13 slots of 4 s
    expect(readings('m2').length).toBeLessThanOrEqual(7);
    for (const id of ['m1', 'm3', 'm4']) {
      const rs = readings(id);
      expect(rs.length, id).toBeGreaterThanOrEqual(10);
      // good, but for a rare timeout of its own when the test machine stalls (2 cores, browsers next door)
      expect(rs.filter((r) => r.q === 'good').length, id).toBeGreaterThanOrEqual(rs.length - 1);
      // a poll may wait behind the dead unit's timeout, never more: measured directly
      expect(agent.stats().devices[id]!.slowestPollMs, id).toBeLessThan(timeout + 200);
      expect(onSchedule(rs), id).toBeLessThanOrEqual(interval + timeout + 100);
    }
  });

  it('broken frames of every shape: counted per device, logged per state change, the agent carries on and so do the other units', async () => {
    const { agent, readings, lines, spool } = gatewayAgent();
    await agent.start();
    const seen: Record<string, Record<string, number>> = {};
    try {
      await waitFor('all good', () => ['m1', 'm2', 'm3', 'm4'].every((d) => readings(d).some((r) => r.q === 'good')), 5000);
      for (const mode of GARBAGE_MODES) {
        const before = { ...agent.stats().devices.m1!.errors };
        sim.setFault(1, { kind: 'garbage', mode });
        await sleep(800);
        sim.clearFault(1);
        const after = agent.stats().devices.m1!.errors;
        seen[mode] = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
        const mark = spool.nextSeq;
        await waitFor(`m1 good again after ${mode}`, () => readings('m1', mark).some((r) => r.q === 'good'), 5000);
      }
    } finally {
      await agent.stop();
      sim.clearFault(1);
    }
    // what each shape is to the agent
    expect(Object.keys(seen.truncated!)).toEqual(['GW_ERR_MODBUS_RESPONSE']);
    expect(Object.keys(seen.wrong_unit!)).toEqual(['GW_ERR_MODBUS_RESPONSE']);
    expect(Object.keys(seen.wrong_function!)).toEqual(['GW_ERR_MODBUS_RESPONSE']);
    // a length that promises more than comes: the answer never completes
    expect(Object.keys(seen.corrupt!)).toEqual(['GW_ERR_MODBUS_TIMEOUT']);
    expect(Object.keys(seen.random!).length).toBeGreaterThanOrEqual(1);
    // the stream was resynchronised rather than trusted
    expect(agent.stats().connections[`tcp://127.0.0.1:${sim.port}`]!.resyncs).toBeGreaterThanOrEqual(GARBAGE_MODES.length);
    // m1 never reported a made-up value
    for (const r of readings('m1')) {
      if (r.q === 'good') expect(r.v.ua!).toBeGreaterThan(200);
      else expect(r.v).toEqual({});
    }
    // the others did not notice (beyond waiting, at worst, one timeout)
    for (const id of ['m2', 'm3', 'm4']) {
      const rs = readings(id);
      expect(rs.filter((r) => r.q === 'good').length, id).toBeGreaterThanOrEqual(rs.length - 1);
      for (const r of rs) if (r.q === 'good') expect(r.v.ua!).toBeGreaterThan(200);
    }
    // one log line per state change, not per broken frame
    const m1 = agent.stats().devices.m1!;
    const changes = lines.filter((l) => l.msg === 'device state changed' && l.deviceId === 'm1');
    expect(changes.length).toBeLessThanOrEqual(1 + 2 * GARBAGE_MODES.length);
    expect(changes.length).toBeLessThan(m1.commLoss);
    expect(sim.stats().garbage).toBeGreaterThanOrEqual(GARBAGE_MODES.length * 2);
  });

  it('exception answers and slow answers: counted by kind; a slow unit within its timeout is still good', async () => {
    const { agent, readings, spool } = gatewayAgent();
    await agent.start();
    try {
      sim.setFault(3, { kind: 'exception', code: 4 });
      sim.setFault(4, { kind: 'slow', delayMs: 60 });
      await sleep(1500);
      sim.clearFault(3);
      sim.setFault(4, { kind: 'slow', delayMs: 400 });
      const mark = spool.nextSeq;
      await sleep(1500);
      expect(readings('m4', mark).some((r) => r.q === 'comm_loss')).toBe(true);
      sim.clearFault(4);
      const back = spool.nextSeq;
      await waitFor('m4 good again', () => readings('m4', back).some((r) => r.q === 'good'), 5000);
    } finally {
      await agent.stop();
      sim.clearFault(3);
      sim.clearFault(4);
    }
    const st = agent.stats().devices;
    expect(st.m3!.errors.GW_ERR_MODBUS_EXCEPTION).toBeGreaterThanOrEqual(2);
    expect(st.m4!.errors.GW_ERR_MODBUS_TIMEOUT).toBeGreaterThanOrEqual(1);
    expect(readings('m4').filter((r) => r.q === 'good').length).toBeGreaterThanOrEqual(5);
    // a slow answer that came after the timeout was not taken for a later request's answer
    for (const r of readings('m4')) if (r.q === 'good') expect(r.v.ua!).toBeGreaterThan(200);
  });
});
