/**
 * Replies a meter may send that the simulator does not: a value that is not
 * BCD, a wake-up preamble before the reply, a late reply to an earlier
 * question ahead of the right one. A real TCP server plays the meter with
 * hand-written frames. And the opt-in broadcast time sync, checked on the
 * simulator: 08H to 99×6 with the local time at the configured offset.
 */
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDlt645ProfileRegistry } from '../../edge-agent/index.ts';
import { createMeterModel, startDlt645Simulator } from '../../simulators/index.ts';
import { spoolOnlyAgent, waitFor } from '../edge-agent/support.ts';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A meter on TCP that answers every request with `reply(request)`. */
async function rawMeter(reply: (req: Buffer) => Buffer): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => s.write(reply(d)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
  return (server.address() as AddressInfo).port;
}

const profiles = createDlt645ProfileRegistry([{ id: 'volts', reads: [{ di: '0201FF00', quantities: ['ua', 'ub', 'uc'] }] }]);

function agentOn(port: number, extra: Record<string, unknown> = {}, clock?: () => number) {
  const { agent, lines, readings } = spoolOnlyAgent(
    {
      agent: 'r',
      dlt645: { devices: [{ id: 'm', profile: 'volts', address: '000012345678', transport: { kind: 'tcp', host: '127.0.0.1', port }, intervalMs: 200, timeoutMs: 500 }], ...extra },
    },
    { dlt645Profiles: profiles, ...(clock ? { clock } : {}) },
  );
  cleanup.push(() => agent.stop());
  return { agent, lines, readings: () => readings((r) => r.device === 'm') };
}

describe('replies from a hand-written meter', () => {
  it('a value that is not BCD is dropped with its reason; the rest of the reading goes out', async () => {
    // 0201FF00 from 000012345678, preceded by FE×4: ua 231.5 (15 23), ub 0x23AA (not BCD), uc 230.0 (00 23), each +33H
    const port = await rawMeter(() => hex('FE FE FE FE 68 78 56 34 12 00 00 68 91 0A 33 32 34 35 48 56 DD 56 33 56 A7 16'));
    const { agent, lines, readings } = agentOn(port);
    await agent.start();
    await waitFor('three readings', () => readings().length >= 3, 10_000);
    await agent.stop();
    for (const r of readings()) expect(r).toMatchObject({ q: 'good', v: { ua: 231.5, uc: 230 } });
    expect(readings().every((r) => !('ub' in r.v))).toBe(true);
    const warned = lines.filter((l) => l.msg === 'value is not BCD, dropped (reported once per quantity)');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ quantity: 'ub', reason: 'identifier 0201FF00 element 1: not BCD: byte 0 is 0xAA (value bytes, most significant first: 23 AA)' });
    expect(Object.values(agent.stats().dlt645)[0]!.rejects).toMatchObject({ garbage: 0, bad_checksum: 0 });
  });

  it('a late reply to another question is not taken for the answer; the right one that follows is', async () => {
    // first a 02010100 reply (an earlier question's), then the 0201FF00 reply asked for
    const stale = hex('68 78 56 34 12 00 00 68 91 06 33 34 34 35 48 56 E9 16');
    const right = hex('68 78 56 34 12 00 00 68 91 0A 33 32 34 35 48 56 CB 55 33 56 94 16');
    const port = await rawMeter(() => Buffer.concat([stale, right]));
    const { agent, readings } = agentOn(port);
    await agent.start();
    await waitFor('two readings', () => readings().length >= 2, 10_000);
    await agent.stop();
    for (const r of readings()) expect(r).toMatchObject({ q: 'good', v: { ua: 231.5, ub: 229.8, uc: 230 } });
    expect(Object.values(agent.stats().dlt645)[0]!.stray).toBeGreaterThanOrEqual(2);
  });

  it('a reply whose value is shorter than the profile says is comm_loss with the reason, not a shifted value', async () => {
    // 0201FF00 with two voltages where the profile expects three
    const port = await rawMeter(() => hex('68 78 56 34 12 00 00 68 91 08 33 32 34 35 48 56 CB 55 09 16'));
    const { agent, lines, readings } = agentOn(port);
    await agent.start();
    await waitFor('a reading', () => readings().length >= 1, 10_000);
    await agent.stop();
    expect(readings()[0]).toMatchObject({ q: 'comm_loss', v: {} });
    const change = lines.find((l) => l.msg === 'device state changed' && l.to === 'comm_loss')!;
    expect(change.reason).toBe('GW_ERR_DLT645_RESPONSE: meter 000012345678: identifier 0201FF00: 4 value bytes, the profile expects 6');
  });
});

describe('broadcast time sync (opt-in)', () => {
  it('sends 08H to 99×6 with the local time at the configured offset, and nobody answers', async () => {
    const sim = await startDlt645Simulator({ transport: { kind: 'tcp', port: 0 }, meters: [{ address: '000012345678', model: createMeterModel({ profile: 'residential', seed: 1 }) }] });
    cleanup.push(() => sim.stop());
    // 04:34:56 UTC is 12:34:56 in China Standard Time (+480 min), 6 December 2026
    const t = Date.UTC(2026, 11, 6, 4, 34, 56);
    const { agent, readings } = agentOn(sim.port, { timeSync: { intervalMs: 3_600_000, utcOffsetMin: 480 } }, () => t);
    await agent.start();
    await waitFor('the time sync and a good reading', () => sim.stats().timeSyncs === 1 && readings().some((r) => r.q === 'good'), 10_000);
    await agent.stop();
    expect(sim.lastTimeSync()).toEqual([0x56, 0x34, 0x12, 0x06, 0x12, 0x26]);
    expect(Object.values(agent.stats().dlt645)[0]!).toMatchObject({ failed: 0, stray: 0 });
  });

  it('is off unless configured', async () => {
    const sim = await startDlt645Simulator({ transport: { kind: 'tcp', port: 0 }, meters: [{ address: '000012345678', model: createMeterModel({ profile: 'residential', seed: 1 }) }] });
    cleanup.push(() => sim.stop());
    const { agent, readings } = agentOn(sim.port);
    await agent.start();
    await waitFor('two good readings', () => readings().filter((r) => r.q === 'good').length >= 2, 10_000);
    await agent.stop();
    expect(sim.stats().timeSyncs).toBe(0);
  });
});
