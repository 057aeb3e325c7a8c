/**
 * Phase sequence over DL/T 645: a profile with `status` reads the meter's
 * running status word 7 (04000507) and sends its bit 0 (电压逆相序) as
 * `phase_seq_rev` — 1 while the simulated meter's phases are connected in
 * reverse (the `phase_reversal` fault), 0 once it is cleared, at most once
 * per `everyS`; nothing without `status`. And the word's decoding.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDlt645ProfileRegistry } from '../../edge-agent/index.ts';
import { phaseSequenceBit } from '../../edge-agent/dlt645/source.ts';
import { createMeterModel, startDlt645Simulator } from '../../simulators/index.ts';
import { statusWord7 } from '../../simulators/dlt645-map.ts';
import { spoolOnlyAgent, waitFor } from '../edge-agent/support.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const profiles = createDlt645ProfileRegistry([
  { id: 'volts-status', reads: [{ di: '0201FF00', quantities: ['ua', 'ub', 'uc'] }], status: { everyS: 1 } },
  { id: 'volts', reads: [{ di: '0201FF00', quantities: ['ua', 'ub', 'uc'] }] },
]);
const ADDRESS = '000012345678';

async function start(profile: string) {
  const sim = await startDlt645Simulator({ transport: { kind: 'tcp', port: 0 }, meters: [{ address: ADDRESS, model: createMeterModel({ profile: 'residential', seed: 1 }) }] });
  cleanup.push(() => sim.stop());
  const { agent, readings } = spoolOnlyAgent(
    { agent: 'r', dlt645: { devices: [{ id: 'm', profile, address: ADDRESS, transport: { kind: 'tcp', host: '127.0.0.1', port: sim.port }, intervalMs: 200, timeoutMs: 500 }] } },
    { dlt645Profiles: profiles },
  );
  cleanup.push(() => agent.stop());
  await agent.start();
  const good = () => readings((r) => r.device === 'm' && r.q === 'good');
  return { sim, agent, good };
}

describe('phase sequence over DL/T 645', () => {
  it('a meter connected in reverse: phase_seq_rev 1, back to 0 once it is right; at most once a second, with the values', async () => {
    const { sim, good } = await start('volts-status');
    await waitFor('a normal status word', () => good().some((r) => r.v.phase_seq_rev === 0), 15_000);
    sim.setFault(ADDRESS, { kind: 'phase_reversal' });
    await waitFor('the reversed sequence', () => good().some((r) => r.v.phase_seq_rev === 1), 15_000);
    sim.clearFault(ADDRESS, 'phase_reversal');
    const n = good().length;
    await waitFor('normal again', () => good().slice(n).some((r) => r.v.phase_seq_rev === 0), 15_000);
    const all = good();
    const withWord = all.filter((r) => r.v.phase_seq_rev !== undefined);
    // polls every 200 ms, the word every 1 s
    expect(withWord.length).toBeLessThan(all.length / 2);
    // the magnitudes do not tell it: the voltages stay what they were
    for (const r of withWord) expect(r.v.ua).toBeGreaterThan(150);
  });

  it('without `status` in the profile: not read', async () => {
    const { good } = await start('volts');
    await waitFor('readings', () => good().length >= 5, 15_000);
    expect(good().every((r) => r.v.phase_seq_rev === undefined)).toBe(true);
  });

  it('decodes bit 0 of the 2-byte word (bits, not BCD), and refuses another length', () => {
    expect(statusWord7([{ kind: 'phase_reversal' }])).toEqual([0x03, 0x00]);
    expect(statusWord7([{ kind: 'sag' }])).toEqual([0x00, 0x00]);
    expect(phaseSequenceBit(Uint8Array.from([0x03, 0x00]))).toBe(1);
    // a nibble above 9 is fine here: the word is a bit field
    expect(phaseSequenceBit(Uint8Array.from([0xfe, 0xff]))).toBe(0);
    expect(phaseSequenceBit(Uint8Array.from([0x01]))).toBeNull();
  });
});
