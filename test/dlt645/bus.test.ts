/**
 * A DL/T 645 bus of ten meters on a serial line (socat pty pair, 8E1): a dead
 * meter is comm_loss alone, backs off, and never holds the other nine up by
 * more than one timeout; broken replies of every kind are counted with their
 * reasons and never crash the agent or turn into a wrong value; an abnormal
 * reply is reported with its decoded error byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../contract/index.ts';
import { createDlt645ProfileRegistry } from '../../edge-agent/index.ts';
import { createMeterModel, METER_PROFILES, startDlt645Simulator, type Dlt645Simulator } from '../../simulators/index.ts';
import { serialPair, sleep, spoolOnlyAgent, tmpDir, waitFor } from '../edge-agent/support.ts';

const work = tmpDir('gw-645-bus-');
let pair: Awaited<ReturnType<typeof serialPair>>;
let sim: Dlt645Simulator;
const ADDRESSES = Array.from({ length: 10 }, (_, i) => `1000000000${String(i).padStart(2, '0')}`);
// the simulator shares this process's event loop on a loaded 2-core machine: timeouts are generous
const TIMEOUT_MS = 1000;
const INTERVAL_MS = 2000;
/**
 * Three requests a poll: ten meters reading the whole three-phase profile
 * (eleven requests) once a second would need more than a 9600-baud line
 * carries (about 60 ms an exchange), here and on a real bus.
 */
const profiles = createDlt645ProfileRegistry([
  { id: 'three-reads', reads: [{ di: '0201FF00', quantities: ['ua', 'ub', 'uc'] }, { di: '0202FF00', quantities: ['ia', 'ib', 'ic'], magnitude: true }, { di: '02030000', quantities: ['p'] }] },
]);

beforeAll(async () => {
  pair = await serialPair(work.dir);
  sim = await startDlt645Simulator({
    transport: { kind: 'serial', path: pair.b, baudRate: 9600 },
    meters: ADDRESSES.map((address, i) => ({ address, model: createMeterModel({ profile: METER_PROFILES[(i % 2) + 1]!, seed: i + 1, ratedKw: 20 }) })),
  });
});
afterAll(async () => {
  await sim?.stop();
  await pair?.close();
  work.remove();
});

/** An agent whose broker is not there: what it reads stays in its spool, which the test reads. */
function busAgent(intervalMs = INTERVAL_MS) {
  const transport = { kind: 'serial' as const, path: pair.a, baudRate: 9600 };
  const { agent, lines, readings: kept } = spoolOnlyAgent({
    agent: 'bus-agent',
    dlt645: { devices: ADDRESSES.map((address, i) => ({ id: `m${i}`, profile: 'three-reads', address, transport, intervalMs, timeoutMs: TIMEOUT_MS, backoffMaxMs: 4000 })) },
  }, { dlt645Profiles: profiles });
  // the meters' readings (not the spool's own report)
  const readings = (device?: string): Reading[] => kept((r) => (device === undefined ? /^m\d$/.test(r.device) : r.device === device));
  return { agent, lines, readings };
}

describe('a DL/T 645 bus of ten meters', () => {
  it('a dead meter is comm_loss alone and backs off; the other nine keep their schedule within one timeout', async () => {
    sim.setDead(ADDRESSES[3]!, true);
    const unanswered0 = sim.stats().unanswered;
    const { agent, readings, lines } = busAgent();
    await agent.start();
    try {
      await sleep(10_500);
    } finally {
      await agent.stop();
      sim.setDead(ADDRESSES[3]!, false);
    }
    const dead = readings('m3');
    expect(dead.length).toBeGreaterThan(0);
    expect(dead.every((r) => r.q === 'comm_loss' && Object.keys(r.v).length === 0)).toBe(true);
    // backed off: fewer polls than the 5 or 6 of a 2 s interval (2, 4, 4 s apart)
    expect(dead.length).toBeLessThanOrEqual(4);
    expect(dead.length).toBeLessThan(readings('m0').length);
    const st = agent.stats();
    expect(st.devices.m3!.errors.GW_ERR_DLT645_TIMEOUT).toBe(dead.length);
    // counted, not timed: each poll of the dead meter put exactly one unanswered request on the line (one timeout),
    // its first identifier, and gave up on the rest
    expect(sim.stats().unanswered - unanswered0).toBe(dead.length);
    for (let i = 0; i < 10; i++) {
      if (i === 3) continue;
      const id = `m${i}`;
      const rs = readings(id);
      // 5 or 6 slots in 10.5 s; a poll that waited behind the dead meter may skip one (fixed-rate schedule)
      expect(rs.length, id).toBeGreaterThanOrEqual(4);
      expect(rs.filter((r) => r.q === 'good').length, id).toBeGreaterThanOrEqual(rs.length - 1);
      // fixed-rate schedule: the next poll one interval on, late by one timeout at most; a longer gap only where a
      // slot was skipped (counted) because the machine stalled, never a drift
      const gaps = rs.slice(1).map((r, k) => r.ts - rs[k]!.ts);
      expect(gaps.filter((g) => g > INTERVAL_MS + TIMEOUT_MS + 500).length, `${id} gaps ${gaps.join(' ')}`).toBeLessThanOrEqual(st.devices[id]!.skipped);
      // timed, so with room for a loaded machine: the slowest poll is one timeout at most (the dead meter ahead of it
      // on the line) plus its own three reads and those of live meters queued ahead — never two timeouts
      expect(st.devices[id]!.slowestPollMs, id).toBeLessThan(2 * TIMEOUT_MS);
      for (const r of rs.filter((x) => x.q === 'good')) expect(Object.keys(r.v).sort(), id).toEqual(['ia', 'ib', 'ic', 'p', 'ua', 'ub', 'uc']);
    }
    expect(lines.filter((l) => l.msg === 'device state changed' && l.deviceId === 'm3').map((l) => l.to)).toEqual(['comm_loss']);
    const bus = st.dlt645[`dlt645+serial://${pair.a}`]!;
    expect(bus.timeouts).toBe(dead.length);
    console.log(`ten meters, one dead: slowest polls ${Object.values(st.devices).map((d) => Math.round(d.slowestPollMs)).join(' ')} ms; ${bus.requests} requests`);
  });

  it('broken replies of every kind are counted with their reason; no wrong value, no crash', async () => {
    const { agent, readings, lines } = busAgent(300);
    await agent.start();
    try {
      const m0Errors = () => Object.values(agent.stats().devices.m0?.errors ?? {}).reduce((a, b) => a + b, 0);
      for (const mode of ['corrupt', 'random', 'wrong_unit', 'truncated', 'wrong_function'] as const) {
        const before = m0Errors();
        sim.setFault(ADDRESSES[0]!, { kind: 'garbage', mode });
        // each kind of garbage answered at least one poll (a loaded machine stretches the schedule)
        await waitFor(`a failed poll of m0 under ${mode}`, () => m0Errors() > before, 8000);
        await sleep(300);
      }
      sim.clearFault(ADDRESSES[0]!);
      const before = readings('m0').length;
      await waitFor('good again after the garbage', () => readings('m0').slice(before).some((r) => r.q === 'good'), 8000);
    } finally {
      await agent.stop();
      sim.clearFault(ADDRESSES[0]!);
    }
    const st = agent.stats();
    const m0 = st.devices.m0!;
    // a bad checksum or a cut frame is a broken reply; noise, another meter's or another function's reply end in the timeout
    expect(m0.errors.GW_ERR_DLT645_FRAME ?? 0).toBeGreaterThanOrEqual(1);
    expect(m0.errors.GW_ERR_DLT645_TIMEOUT ?? 0).toBeGreaterThanOrEqual(1);
    expect(m0.commLoss).toBe(Object.values(m0.errors).reduce((a, b) => a + b, 0));
    const bus = st.dlt645[`dlt645+serial://${pair.a}`]!;
    expect(bus.rejects.bad_checksum).toBeGreaterThanOrEqual(1);
    // a reply from a meter nobody asked, or for another function, is not taken as the answer
    expect(bus.stray).toBeGreaterThanOrEqual(1);
    for (const r of readings().filter((x) => x.q === 'good')) {
      expect(r.v.ua!).toBeGreaterThan(200);
      expect(r.v.ua!).toBeLessThan(260);
    }
    // the others hardly noticed
    for (let i = 1; i < 10; i++) {
      const rs = readings(`m${i}`);
      expect(rs.filter((r) => r.q === 'good').length, `m${i}`).toBeGreaterThanOrEqual(rs.length * 0.8);
    }
    const changes = lines.filter((l) => l.msg === 'device state changed' && l.deviceId === 'm0');
    expect(changes.length).toBeLessThan(m0.commLoss);
    const reasons = changes.filter((l) => l.to === 'comm_loss').map((l) => String(l.reason));
    expect(reasons.some((r) => /^GW_ERR_DLT645_(FRAME|TIMEOUT): /.test(r))).toBe(true);
  });

  it('an abnormal reply is comm_loss with the error byte decoded in the logged reason', async () => {
    sim.setFault(ADDRESSES[5]!, { kind: 'exception', code: 0x04 });
    const { agent, lines } = busAgent(300);
    await agent.start();
    try {
      await waitFor('m5 in comm_loss', () => agent.stats().devices.m5?.state === 'comm_loss', 5000);
    } finally {
      await agent.stop();
      sim.clearFault(ADDRESSES[5]!);
    }
    const change = lines.find((l) => l.msg === 'device state changed' && l.deviceId === 'm5' && l.to === 'comm_loss')!;
    expect(String(change.reason)).toBe(`GW_ERR_DLT645_METER: meter ${ADDRESSES[5]} refused 0201FF00: password error or not authorised (ERR 0x04)`);
    expect(agent.stats().devices.m5!.errors.GW_ERR_DLT645_METER).toBeGreaterThanOrEqual(1);
    expect(agent.stats().dlt645[`dlt645+serial://${pair.a}`]!.meterErrors).toBeGreaterThanOrEqual(1);
  });
});
