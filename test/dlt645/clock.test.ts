/**
 * The meter's own clock over DL/T 645: a profile with `clock` reads the date
 * (04000101) and time (04000102) and sends the meter's clock minus the
 * agent's as `clock_offset` — 400 s for a simulated meter running 400 s
 * ahead, about 0 for one in step, at most once per `everyS`, beside the
 * values; nothing without `clock`. And the date and time decoding itself,
 * including what is refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDlt645ProfileRegistry } from '../../edge-agent/index.ts';
import { meterTimeOf } from '../../edge-agent/dlt645/source.ts';
import { createMeterModel, startDlt645Simulator } from '../../simulators/index.ts';
import { meterClockValue } from '../../simulators/dlt645-server.ts';
import { spoolOnlyAgent, waitFor } from '../edge-agent/support.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const profiles = createDlt645ProfileRegistry([
  { id: 'volts-clock', reads: [{ di: '0201FF00', quantities: ['ua', 'ub', 'uc'] }], clock: { everyS: 1 } },
  { id: 'volts', reads: [{ di: '0201FF00', quantities: ['ua', 'ub', 'uc'] }] },
]);

async function run(clockOffsetS: number, profile: string, until: (n: number) => boolean) {
  const sim = await startDlt645Simulator({ transport: { kind: 'tcp', port: 0 }, meters: [{ address: '000012345678', model: createMeterModel({ profile: 'residential', seed: 1 }), clockOffsetS }] });
  cleanup.push(() => sim.stop());
  const { agent, lines, readings } = spoolOnlyAgent(
    { agent: 'r', dlt645: { devices: [{ id: 'm', profile, address: '000012345678', transport: { kind: 'tcp', host: '127.0.0.1', port: sim.port }, intervalMs: 200, timeoutMs: 500 }] } },
    { dlt645Profiles: profiles },
  );
  cleanup.push(() => agent.stop());
  await agent.start();
  await waitFor('readings', () => until(readings((r) => r.device === 'm' && r.q === 'good').length), 15_000);
  await agent.stop();
  return { lines, readings: readings((r) => r.device === 'm' && r.q === 'good') };
}

describe('meter clock over DL/T 645', () => {
  it('a meter 400 s ahead: clock_offset 400 s (to the meter clock\'s second), once a second at most, with the values', async () => {
    const { readings } = await run(400, 'volts-clock', (n) => n >= 12);
    const offsets = readings.filter((r) => r.v.clock_offset !== undefined);
    expect(offsets.length).toBeGreaterThanOrEqual(1);
    // polls every 200 ms, the clock every 1 s: far fewer offsets than readings
    expect(offsets.length).toBeLessThan(readings.length / 2);
    for (const r of offsets) {
      expect(Math.abs(r.v.clock_offset! - 400)).toBeLessThanOrEqual(1.5);
      expect(r.v.ua).toBeGreaterThan(150);
    }
  });

  it('a meter in step: about 0; without `clock` in the profile: not read', async () => {
    const inStep = await run(0, 'volts-clock', (n) => n >= 3);
    const o = inStep.readings.find((r) => r.v.clock_offset !== undefined);
    expect(Math.abs(o!.v.clock_offset!)).toBeLessThanOrEqual(1.5);
    const off = await run(400, 'volts', (n) => n >= 5);
    expect(off.readings.every((r) => r.v.clock_offset === undefined)).toBe(true);
  });

  it('decodes the date and time the meter keeps in its zone, and refuses what is no date or time', () => {
    // 2026-12-06 (a Sunday) 12:34:56 in China is 04:34:56 UTC
    const t = Date.UTC(2026, 11, 6, 4, 34, 56);
    const date = Uint8Array.from(meterClockValue('04000101', t)!);
    const time = Uint8Array.from(meterClockValue('04000102', t)!);
    expect([...date]).toEqual([0x00, 0x06, 0x12, 0x26]);
    expect([...time]).toEqual([0x56, 0x34, 0x12]);
    expect(meterTimeOf(date, time, 480)).toBe(t);
    expect(meterTimeOf(Uint8Array.from([0, 0x31, 0x02, 0x26]), time, 480)).toBeNull(); // 31 February
    expect(meterTimeOf(date, Uint8Array.from([0x5a, 0x34, 0x12]), 480)).toBeNull(); // not BCD
    expect(meterTimeOf(date, Uint8Array.from([0x56, 0x34]), 480)).toBeNull(); // short
  });
});
