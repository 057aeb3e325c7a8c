/**
 * The DL/T 645 simulator as a bus of several meters, read through the
 * agent's bus: each address answers for itself, a dead or unknown address
 * says nothing, an unknown identifier gets "no data requested", short
 * addressing (AA in the high bytes) reaches the meter it names, continuation
 * frames join to the whole value; and a gateway that goes away and comes back
 * is reconnected to without losing the bus.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBcd, Dlt645Bus, Dlt645Error, tcpLink } from '../../edge-agent/index.ts';
import { createMeterModel, startDlt645Simulator } from '../../simulators/index.ts';
import { testLog } from '../support/logger.ts';
import { sleep } from '../edge-agent/support.ts';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const V = { bytes: 2, decimals: 1, signed: false };

async function setup(port = 0) {
  const sim = await startDlt645Simulator({
    transport: { kind: 'tcp', port },
    meters: [
      { address: '000000000011', model: createMeterModel({ profile: 'residential', seed: 1 }) },
      { address: '000000000012', model: createMeterModel({ profile: 'residential', seed: 2 }), maxValueBytes: 1 },
      { address: '000000000013', model: createMeterModel({ profile: 'residential', seed: 3 }) },
    ],
  });
  cleanup.push(() => sim.stop());
  sim.setOverride('000000000011', { ua: 221.1, ub: 222.2, uc: 223.3 });
  sim.setOverride('000000000012', { ua: 231.1, ub: 232.2, uc: 233.3 });
  sim.setOverride('000000000013', { ua: 241.1 });
  return sim;
}

function bus(port: number) {
  const b = new Dlt645Bus({ link: tcpLink('127.0.0.1', port), log: testLog, reconnectMinMs: 50, reconnectMaxMs: 200 });
  cleanup.push(() => b.close());
  return b;
}

const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: Dlt645Error) => e.code);

describe('DL/T 645 simulator', () => {
  it('each address answers for itself; a dead or unknown one says nothing; an unknown identifier is refused', async () => {
    const sim = await setup();
    const b = bus(sim.port);
    const ua = async (a: string) => {
      const r = decodeBcd(await b.read(a, '02010100', 500), 0, V);
      return r.ok ? r.value : NaN;
    };
    expect(await ua('000000000011')).toBe(221.1);
    expect(await ua('000000000013')).toBe(241.1);
    sim.setDead('000000000013', true);
    expect(await code(b.read('000000000013', '02010100', 200))).toBe('GW_ERR_DLT645_TIMEOUT');
    expect(await code(b.read('000000000099', '02010100', 200))).toBe('GW_ERR_DLT645_TIMEOUT');
    const err = await b.read('000000000011', '04000103', 500).catch((e: Dlt645Error) => e);
    expect(err).toMatchObject({ code: 'GW_ERR_DLT645_METER', meterErrors: ['no_data'], retryable: false });
    // short addressing: AA in the high bytes, the low ones name the meter
    expect(decodeBcd(await b.read('AAAAAAAAAA11', '02010100', 500), 0, V)).toEqual({ ok: true, value: 221.1 });
    expect(sim.stats()).toMatchObject({ abnormal: 1, unanswered: 2 });
  });

  it('continuation frames: a meter that sends one value byte a frame still gives the whole block', async () => {
    const sim = await setup();
    const b = bus(sim.port);
    const before = sim.stats().requests;
    const v = await b.read('000000000012', '0201FF00', 500);
    expect([0, 2, 4].map((o) => decodeBcd(v, o, V))).toEqual([231.1, 232.2, 233.3].map((value) => ({ ok: true, value })));
    // 6 value bytes, one a frame: the read and five 12H requests
    expect(sim.stats().requests - before).toBe(6);
  });

  it('a gateway that goes away and comes back: reads fail with a code meanwhile, then the bus reconnects', async () => {
    const sim = await setup();
    const port = sim.port;
    const b = bus(port);
    expect(await code(b.read('000000000011', '02010100', 500))).toBe('ok');
    await sim.stop();
    const failed = await code(b.read('000000000011', '02010100', 300));
    expect(['GW_ERR_DLT645_SOCKET', 'GW_ERR_DLT645_CONNECT', 'GW_ERR_DLT645_TIMEOUT']).toContain(failed);
    await setup(port);
    let last = '';
    for (let i = 0; i < 40 && last !== 'ok'; i++) {
      last = await code(b.read('000000000011', '02010100', 300));
      if (last !== 'ok') await sleep(100);
    }
    expect(last).toBe('ok');
    expect(b.stats().connects).toBe(2);
  });
});
