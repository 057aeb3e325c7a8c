/**
 * The agent's Modbus TCP client against a scripted gateway
 * (modbus-tcp-gateway.ts: a TCP server on 127.0.0.1 that answers with exactly
 * the bytes a test chooses: split, joined, late, broken) and against the
 * meter simulators, with modbus-serial's client as a third party.
 */
import type net from 'node:net';
import modbusSerial from 'modbus-serial';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_PROFILES, ModbusError, ModbusTcpConnection, planReads, type ModbusReadRequest } from '../../edge-agent/index.ts';
import { createMeterModel, METER_TYPES, registerMapOf, startModbusSimulator } from '../../simulators/index.ts';
import { testLog } from '../support/logger.ts';
import { prng } from '../support/prng.ts';
import { answerOf, counting, frame, scriptedGateway, type Answerer, type Gateway, type Request } from './modbus-tcp-gateway.ts';
import { gatewayDevices, sleep, spoolOnlyAgent, startGateways, waitFor } from './support.ts';

const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

async function gateway(answer: Answerer): Promise<Gateway> {
  const g = await scriptedGateway(answer);
  running.push(g);
  return g;
}

function connection(port: number, extra: Partial<ConstructorParameters<typeof ModbusTcpConnection>[0]> = {}): ModbusTcpConnection {
  const c = new ModbusTcpConnection({ host: '127.0.0.1', port, log: testLog, reconnectMinMs: 50, reconnectMaxMs: 100, ...extra });
  running.push({ stop: () => c.close() });
  return c;
}

const req = (o: Partial<ModbusReadRequest> = {}): ModbusReadRequest => ({ unitId: 7, fc: 3, address: 0x2000, count: 4, timeoutMs: 2000, ...o });

async function failure(p: Promise<unknown>): Promise<ModbusError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModbusError);
    return e as ModbusError;
  }
  throw new Error('the read did not fail');
}

describe('Modbus TCP client', () => {
  it('sends each read as the spec frames it and decodes FC 01–04 answers exactly', async () => {
    const g = await gateway((r, sock) => {
      const answers: Record<number, number[]> = {
        1: [1, 0, 1, 1, 0, 1, 0, 1, 0, 1],
        2: [0, 0, 0, 0, 0, 0, 0, 1, 1],
        3: [0, 1, 0x7fff, 0x8000, 0xffff],
        4: [0x1234],
      };
      sock.write(answerOf(r, answers[r.fc]!));
    });
    const c = connection(g.port);
    expect(await c.read(req({ fc: 1, address: 0x13, count: 10 }))).toEqual([1, 0, 1, 1, 0, 1, 0, 1, 0, 1]);
    expect(await c.read(req({ fc: 2, address: 0xc4, count: 9 }))).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(await c.read(req({ fc: 3, address: 0x6b, count: 5 }))).toEqual([0, 1, 0x7fff, 0x8000, 0xffff]);
    expect(await c.read(req({ fc: 4, unitId: 247, address: 0xfffe, count: 1 }))).toEqual([0x1234]);
    // MBAP: transaction id counting up, protocol 0, length 6 (unit id + 5 PDU bytes); PDU big-endian
    expect(g.requests.map((r) => r.raw.toString('hex'))).toEqual([
      '0001 0000 0006 07 01 0013 000a',
      '0002 0000 0006 07 02 00c4 0009',
      '0003 0000 0006 07 03 006b 0005',
      '0004 0000 0006 f7 04 fffe 0001',
    ].map((h) => h.replaceAll(' ', '')));
    expect(c.stats()).toMatchObject({ requests: 4, failed: 0, connects: 1, resyncs: 0, lateAnswers: 0, queued: 0, connected: true });
  });

  it('an answer split byte by byte, and a late answer with the next one in one segment, are each read whole', async () => {
    let mode: 'bytes' | 'silent' | 'joined' = 'bytes';
    let late: Buffer | null = null;
    const g = await gateway((r, sock) => {
      const a = answerOf(r, [r.address, 2, 3]);
      if (mode === 'bytes') {
        void (async () => {
          for (const byte of a) {
            sock.write(Buffer.of(byte));
            await sleep(3);
          }
        })();
      } else if (mode === 'silent') late = a;
      else sock.write(Buffer.concat([late!, a]));
    });
    const c = connection(g.port);
    expect(await c.read(req({ address: 11, count: 3 }))).toEqual([11, 2, 3]);
    mode = 'silent';
    expect((await failure(c.read(req({ address: 12, count: 3, timeoutMs: 150 })))).code).toBe('GW_ERR_MODBUS_TIMEOUT');
    mode = 'joined';
    // the late answer to 12 and the answer to 13 in one write: 12 dropped by its transaction id
    expect(await c.read(req({ address: 13, count: 3 }))).toEqual([13, 2, 3]);
    expect(c.stats()).toMatchObject({ lateAnswers: 1, resyncs: 0, connects: 1, failed: 1 });
  });

  it('a frame and the first half of the next in one segment, the rest later', async () => {
    let first = true;
    const g = await gateway((r, sock) => {
      const a = answerOf(r, Array.from({ length: r.count }, (_, i) => 100 + i));
      if (first) {
        // time out the first request; its answer comes with the start of the second's
        first = false;
        return;
      }
      const late = answerOf({ ...r, tid: r.tid - 1 }, Array.from({ length: r.count }, () => 9));
      sock.write(Buffer.concat([late, a.subarray(0, 5)]));
      setTimeout(() => sock.write(a.subarray(5)), 30);
    });
    const c = connection(g.port);
    expect((await failure(c.read(req({ count: 60, timeoutMs: 150 })))).code).toBe('GW_ERR_MODBUS_TIMEOUT');
    expect(await c.read(req({ count: 60 }))).toEqual(Array.from({ length: 60 }, (_, i) => 100 + i));
    expect(c.stats()).toMatchObject({ lateAnswers: 1, resyncs: 0, connects: 1 });
  });

  it('answers cut at random points and late answers sent ahead of them: every read gets exactly its own values (seeded)', async () => {
    const rnd = prng(7);
    const expected = (fc: number, address: number, count: number) =>
      Array.from({ length: count }, (_, i) => (fc <= 2 ? ((address + i) % 3 === 0 ? 1 : 0) : (address * 31 + i * 7) & 0xffff));
    let held: Buffer[] = [];
    const g = await gateway((r, sock) => {
      const a = answerOf(r, expected(r.fc, r.address, r.count));
      // unit 9: hold the answer until the next request's (its request times out meanwhile)
      if (r.unit === 9) return void held.push(a);
      let bytes = Buffer.concat([...held, a]);
      held = [];
      void (async () => {
        while (bytes.length > 0) {
          const n = 1 + Math.floor(rnd() * 40);
          sock.write(bytes.subarray(0, n));
          bytes = bytes.subarray(n);
          await new Promise((r) => setImmediate(r));
        }
      })();
    });
    const c = connection(g.port);
    let holds = 0;
    for (let i = 0; i < 60; i++) {
      const fc = (1 + Math.floor(rnd() * 4)) as 1 | 2 | 3 | 4;
      const count = 1 + Math.floor(rnd() * (fc <= 2 ? 300 : 125));
      const hold = i < 59 && rnd() < 0.25;
      const r = req({ unitId: hold ? 9 : 7, fc, address: i * 100, count, timeoutMs: hold ? 50 : 5000 });
      if (hold) {
        holds++;
        expect((await failure(c.read(r))).code).toBe('GW_ERR_MODBUS_TIMEOUT');
      } else expect(await c.read(r), `read ${i}`).toEqual(expected(fc, r.address, count));
    }
    expect(holds).toBeGreaterThan(5);
    expect(c.stats()).toMatchObject({ lateAnswers: holds, resyncs: 0, connects: 1, failed: holds });
  });

  it('values into the caller\'s array; bytes read before a request was sent never answer it nor touch the array', async () => {
    const g = await gateway((r, sock) => {
      // the answer to address 1 and, in the same segment, one made up for the request that will follow it
      if (r.address === 1) sock.write(Buffer.concat([answerOf(r, [11]), answerOf({ ...r, tid: r.tid + 1, address: 2 }, [666])]));
      else counting(r, sock);
    });
    const c = connection(g.port);
    const into = [9, 9, 9, 9, 9];
    expect(await c.read(req({ address: 40, count: 3 }), into)).toBe(into);
    expect(into).toEqual([40, 41, 42]);
    // one array for both reads, as a poller decoding each answer at once may use it
    const first = c.read(req({ address: 1, count: 1 }), into);
    const second = failure(c.read(req({ address: 2, count: 1 }), into));
    expect(await first).toEqual([11]);
    const e = await second;
    expect(e.code).toBe('GW_ERR_MODBUS_RESPONSE');
    expect(e.message).toMatch(/before its request was sent$/);
    expect(await c.read(req({ address: 3, count: 1 }))).toEqual([3]);
    expect(c.stats()).toMatchObject({ resyncs: 1, connects: 2 });
  });

  it('an exception answer is GW_ERR_MODBUS_EXCEPTION with its code; the link stays', async () => {
    let code = 2;
    const g = await gateway((r, sock) => (r.address === 1 ? counting(r, sock) : sock.write(frame(r.tid, r.unit, [r.fc | 0x80, code]))));
    const c = connection(g.port);
    const e = await failure(c.read(req({ fc: 4 })));
    expect(e).toMatchObject({ code: 'GW_ERR_MODBUS_EXCEPTION', exceptionCode: 2, retryable: false });
    expect(e.message).toBe('unit 7 fc 4 0x2000+4: Modbus exception 2: illegal data address');
    code = 11;
    expect(await failure(c.read(req()))).toMatchObject({ code: 'GW_ERR_MODBUS_EXCEPTION', exceptionCode: 11, retryable: true });
    expect(await c.read(req({ address: 1, count: 2 }))).toEqual([1, 2]);
    expect(c.stats()).toMatchObject({ connects: 1, resyncs: 0, failed: 2 });
  });

  it('a late answer after a timeout is dropped and the next request still gets its own answer', async () => {
    const g = await gateway((r, sock) => setTimeout(() => counting(r, sock), r.address === 5 ? 250 : 0));
    const c = connection(g.port);
    const e = await failure(c.read(req({ address: 5, timeoutMs: 100 })));
    expect(e.code).toBe('GW_ERR_MODBUS_TIMEOUT');
    expect(e.message).toBe('unit 7 fc 3 0x0005+4: no answer within 100 ms');
    // sent while the late answer (registers 5..8) is still to come
    expect(await c.read(req({ address: 40, count: 2 }))).toEqual([40, 41]);
    await waitFor('the late answer', () => c.stats().lateAnswers === 1);
    expect(await c.read(req({ address: 60, count: 2 }))).toEqual([60, 61]);
    expect(c.stats()).toMatchObject({ connects: 1, resyncs: 0, lateAnswers: 1 });
    expect(g.connections).toBe(1);
  });

  it('bytes that are no frame (protocol id not 0, a length out of range) drop the link; the next read opens a new one', async () => {
    const broken: Array<(r: Request) => Buffer> = [
      (r) => frame(r.tid, r.unit, [3, 2, 0, 1], { protocol: 1 }),
      (r) => frame(r.tid, r.unit, [3, 2, 0, 1], { length: 2 }),
      (r) => frame(r.tid, r.unit, [3, 2, 0, 1], { length: 255 }),
    ];
    const g = await gateway((r, sock) => (r.address < broken.length ? sock.write(broken[r.address]!(r)) : counting(r, sock)));
    const c = connection(g.port);
    for (let i = 0; i < broken.length; i++) {
      const e = await failure(c.read(req({ address: i, count: 1 })));
      expect(e.code, `case ${i}`).toBe('GW_ERR_MODBUS_RESPONSE');
      expect(e.message).toMatch(/no Modbus TCP frame/);
      expect(await c.read(req({ address: 10 + i, count: 1 }))).toEqual([10 + i]);
    }
    expect(c.stats()).toMatchObject({ resyncs: 3, connects: 4, lateAnswers: 0 });
    expect(new Set(g.requests.map((r) => r.conn)).size).toBe(4);
  });

  it('an answer that does not fit its request (unit id, transaction id, function code, byte count) is GW_ERR_MODBUS_RESPONSE and resyncs', async () => {
    const broken: Array<[RegExp, (r: Request) => Buffer]> = [
      [/answer is from unit 8$/, (r) => frame(r.tid, r.unit + 1, [3, 2, 0, 1])],
      [/transaction id 999, \d+ expected$/, (r) => frame(999, r.unit, [3, 2, 0, 1])],
      [/function code 4$/, (r) => frame(r.tid, r.unit, [4, 2, 0, 1])],
      [/answered 2 registers of 1 requested$/, (r) => frame(r.tid, r.unit, [3, 4, 0, 1, 0, 2])],
      [/byte count 4 in an answer with 2 data bytes$/, (r) => frame(r.tid, r.unit, [3, 4, 0, 1])],
      [/an exception answer of 3 bytes/, (r) => frame(r.tid, r.unit, [0x83, 2, 0])],
    ];
    const g = await gateway((r, sock) => (r.address < broken.length ? sock.write(broken[r.address]![1](r)) : counting(r, sock)));
    const c = connection(g.port);
    for (let i = 0; i < broken.length; i++) {
      const e = await failure(c.read(req({ address: i, count: 1 })));
      expect(e.code, `case ${i}`).toBe('GW_ERR_MODBUS_RESPONSE');
      expect(e.message, `case ${i}`).toMatch(broken[i]![0]);
      expect(await c.read(req({ address: 10 + i, count: 1 }))).toEqual([10 + i]);
    }
    expect(c.stats()).toMatchObject({ resyncs: broken.length, connects: broken.length + 1, failed: broken.length });
  });

  it('an answer to a request that was answered already, or arriving with none outstanding, resyncs', async () => {
    const g = await gateway((r, sock) => {
      counting(r, sock);
      if (r.address === 1) setTimeout(() => counting(r, sock), 20);
    });
    const c = connection(g.port);
    expect(await c.read(req({ address: 1, count: 1 }))).toEqual([1]);
    await waitFor('the link dropped', () => c.stats().resyncs === 1);
    expect(c.stats().connected).toBe(false);
    expect(await c.read(req({ address: 2, count: 1 }))).toEqual([2]);
    expect(c.stats()).toMatchObject({ connects: 2, lateAnswers: 0, failed: 0 });
  });

  it('a timeout that left an unfinished frame behind resyncs; a gateway that closes mid-request is GW_ERR_MODBUS_SOCKET', async () => {
    const g = await gateway((r, sock) => {
      if (r.address === 1) sock.write(answerOf(r, [1, 2, 3]).subarray(0, 8));
      else if (r.address === 2) sock.destroy();
      else counting(r, sock);
    });
    const c = connection(g.port);
    expect((await failure(c.read(req({ address: 1, count: 3, timeoutMs: 150 })))).code).toBe('GW_ERR_MODBUS_TIMEOUT');
    expect(c.stats()).toMatchObject({ resyncs: 1, connected: false });
    const e = await failure(c.read(req({ address: 2, count: 3 })));
    expect(e.code).toBe('GW_ERR_MODBUS_SOCKET');
    expect(e.message).toMatch(/^connection to 127\.0\.0\.1:\d+ closed/);
    expect(await c.read(req({ address: 3, count: 1 }))).toEqual([3]);
    expect(c.stats()).toMatchObject({ connects: 3, resyncs: 1, failed: 2 });
  });

  it('one request at a time with the frame gap between; bad input is refused before anything is sent', async () => {
    const answered: number[] = [];
    const g = await gateway((r, sock) => {
      counting(r, sock);
      answered.push(performance.now());
    });
    const c = connection(g.port, { frameGapMs: 80 });
    const reads = [1, 2, 3].map((a) => c.read(req({ address: a, count: 1 })));
    expect(c.stats().queued).toBe(2);
    expect(await Promise.all(reads)).toEqual([[1], [2], [3]]);
    for (let i = 1; i < 3; i++) expect(g.requests[i]!.at - answered[i - 1]!).toBeGreaterThanOrEqual(75);
    for (const bad of [req({ fc: 5 as 3 }), req({ count: 126 }), req({ fc: 1, count: 2001 }), req({ address: 0xffff, count: 2 }), req({ unitId: 256 }), req({ timeoutMs: 0 }), req({ address: undefined as unknown as number }), null as unknown as ModbusReadRequest]) {
      const e = await failure(c.read(bad));
      expect(e).toMatchObject({ code: 'GW_ERR_MODBUS_RESPONSE', retryable: false });
      expect(e.message).toMatch(/refusing/);
    }
    expect(g.requests).toHaveLength(3);
    expect(c.stats()).toMatchObject({ connects: 1, resyncs: 0 });
  });

  it('close(): the request on the wire finishes, the queued ones fail GW_ERR_MODBUS_CLOSED, and so does any later read', async () => {
    const g = await gateway((r, sock) => setTimeout(() => counting(r, sock), 100));
    const c = connection(g.port);
    const first = c.read(req({ address: 1, count: 1 }));
    const queued = failure(c.read(req({ address: 2, count: 1 })));
    await waitFor('the first request on the wire', () => g.requests.length === 1);
    const closing = c.close();
    expect(await first).toEqual([1]);
    expect(await queued).toMatchObject({ code: 'GW_ERR_MODBUS_CLOSED', retryable: false });
    await closing;
    expect(await failure(c.read(req()))).toMatchObject({ code: 'GW_ERR_MODBUS_CLOSED' });
    expect(c.stats()).toMatchObject({ connected: false, queued: 0 });
    expect(g.requests).toHaveLength(1);
  });

  it('a gateway that is not there: GW_ERR_MODBUS_CONNECT, then a backoff before the next attempt', async () => {
    const g = await gateway(counting);
    const port = g.port;
    await g.stop();
    running.splice(running.indexOf(g), 1);
    const c = connection(port, { reconnectMinMs: 300, reconnectMaxMs: 300 });
    expect((await failure(c.read(req()))).message).toMatch(/^cannot connect to 127\.0\.0\.1:\d+/);
    expect((await failure(c.read(req()))).message).toMatch(/next attempt in \d+ ms$/);
    expect(c.stats()).toMatchObject({ connectFailures: 1, connects: 0, failed: 2 });
  });

  it('reads what modbus-serial reads from the meter simulators: every built-in profile, all units queued at once', async () => {
    const T0 = Date.UTC(2026, 0, 7, 4, 0, 0);
    const sim = await startModbusSimulator({
      port: 0,
      units: METER_TYPES.map((type, i) => ({ unitId: i + 1, model: createMeterModel({ profile: 'commercial', seed: i }), registerMap: registerMapOf(type) })),
      clock: () => T0,
      random: () => 0.5,
    });
    running.push(sim);
    const reads = METER_TYPES.flatMap((type, i) => {
      const p = BUILTIN_PROFILES.get(type)!;
      return planReads(p.registers, { maxGap: p.maxGap, maxRegisters: p.maxRegistersPerRead }).map((r) => req({ unitId: i + 1, fc: r.fc, address: r.address, count: r.count }));
    });
    const c = connection(sim.port);
    const ours = await Promise.all(reads.map((r) => c.read(r)));
    const theirs = new modbusSerial.default();
    await theirs.connectTCP('127.0.0.1', { port: sim.port });
    try {
      for (let i = 0; i < reads.length; i++) {
        const r = reads[i]!;
        theirs.setID(r.unitId);
        const got = r.fc === 3 ? await theirs.readHoldingRegisters(r.address, r.count) : await theirs.readInputRegisters(r.address, r.count);
        expect(ours[i], requestLabelOf(r)).toEqual(got.data);
      }
      // the same exception for an address no meter has
      const e = await failure(c.read(req({ unitId: 1, address: 0x7000, count: 2 })));
      theirs.setID(1);
      expect(e.exceptionCode).toBe(((await theirs.readHoldingRegisters(0x7000, 2).catch((x: unknown) => x)) as { modbusCode: number }).modbusCode);
    } finally {
      await new Promise<void>((r) => theirs.close(() => r()));
    }
    expect(reads.length).toBeGreaterThanOrEqual(METER_TYPES.length);
    expect(c.stats()).toMatchObject({ requests: reads.length + 1, failed: 1, connects: 1, resyncs: 0 });
  });

  it('many pollers over several gateways share the arrays answers are decoded from: each reading holds its own meter\'s values', async () => {
    const sims = await startGateways(4, 8, 5);
    running.push(...sims);
    // a value per meter: any answer decoded for another meter shows
    sims.forEach((s, p) => s.unitIds().forEach((u) => s.setOverride(u, { ua: 200 + p * 8 + u, ia: p * 8 + u })));
    const { agent, readings } = spoolOnlyAgent({ agent: 'shared-arrays', devices: gatewayDevices(sims, 8, { intervalMs: 100, timeoutMs: 2000 }) });
    await agent.start();
    try {
      await waitFor('five good readings of every meter', () => {
        const good = readings((r) => r.q === 'good');
        return sims.every((_, p) => [1, 2, 3, 4, 5, 6, 7, 8].every((u) => good.filter((r) => r.device === `m${p}-${u}`).length >= 5));
      }, 20_000);
    } finally {
      await agent.stop();
    }
    const meters = readings((x) => x.q === 'good' && /^m\d+-\d+$/.test(x.device));
    expect(meters.length).toBeGreaterThanOrEqual(32 * 5);
    for (const r of meters) {
      const [p, u] = r.device.slice(1).split('-').map(Number) as [number, number];
      expect(r.v, r.device).toMatchObject({ ua: 200 + p * 8 + u, ia: p * 8 + u });
    }
  });
});

const requestLabelOf = (r: ModbusReadRequest) => `unit ${r.unitId} fc ${r.fc} ${r.address}+${r.count}`;

