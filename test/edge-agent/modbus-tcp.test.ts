/**
 * The agent's Modbus TCP client against a gateway written here: a TCP server
 * on 127.0.0.1 that records each request's bytes and answers with exactly
 * the bytes a test chooses (split, joined, late, broken). Requests and
 * answers follow Modbus Messaging on TCP/IP v1.0b (MBAP header) and the
 * Modbus Application Protocol v1.1b3 (read PDUs, exceptions).
 */
import net from 'node:net';
import modbusSerial from 'modbus-serial';
import { afterEach, describe, expect, it } from 'vitest';
import { BUILTIN_PROFILES, ModbusError, ModbusTcpConnection, planReads, type ModbusReadRequest } from '../../edge-agent/index.ts';
import { createMeterModel, METER_TYPES, registerMapOf, startModbusSimulator } from '../../simulators/index.ts';
import { testLog } from '../support/logger.ts';
import { sleep, waitFor } from './support.ts';

interface Request {
  /** the 12 bytes as received */
  raw: Buffer;
  tid: number;
  protocol: number;
  length: number;
  unit: number;
  fc: number;
  address: number;
  count: number;
  /** which connection (0 = the first accepted) */
  conn: number;
  at: number;
}

type Answerer = (r: Request, sock: net.Socket) => void;

interface Gateway {
  port: number;
  requests: Request[];
  connections: number;
  answer: Answerer;
  stop(): Promise<void>;
}

const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

async function gateway(answer: Answerer): Promise<Gateway> {
  const sockets = new Set<net.Socket>();
  const g: Gateway = {
    port: 0,
    requests: [],
    connections: 0,
    answer,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((sock) => {
    const conn = g.connections++;
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 12) {
        const raw = Buffer.from(buf.subarray(0, 12));
        buf = buf.subarray(12);
        const r: Request = {
          raw,
          tid: raw.readUInt16BE(0),
          protocol: raw.readUInt16BE(2),
          length: raw.readUInt16BE(4),
          unit: raw[6]!,
          fc: raw[7]!,
          address: raw.readUInt16BE(8),
          count: raw.readUInt16BE(10),
          conn,
          at: performance.now(),
        };
        g.requests.push(r);
        g.answer(r, sock);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  g.port = (server.address() as net.AddressInfo).port;
  running.push(g);
  return g;
}

/** An MBAP frame around `pdu`; `length`/`protocol` override the header's fields. */
function frame(tid: number, unit: number, pdu: number[], o: { protocol?: number; length?: number } = {}): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(tid, 0);
  b.writeUInt16BE(o.protocol ?? 0, 2);
  b.writeUInt16BE(o.length ?? pdu.length + 1, 4);
  b[6] = unit;
  Buffer.from(pdu).copy(b, 7);
  return b;
}

/** A good answer to `r`: registers as 16-bit words, or bits packed LSB first. */
function answerOf(r: Request, values: number[]): Buffer {
  if (r.fc <= 2) {
    const bytes = new Array<number>((values.length + 7) >> 3).fill(0);
    values.forEach((v, i) => (bytes[i >> 3]! |= (v ? 1 : 0) << (i & 7)));
    return frame(r.tid, r.unit, [r.fc, bytes.length, ...bytes]);
  }
  return frame(r.tid, r.unit, [r.fc, values.length * 2, ...values.flatMap((v) => [v >> 8, v & 0xff])]);
}

/** Answers registers address, address+1, … and bits alternating 1, 0, … */
const counting: Answerer = (r, sock) => {
  sock.write(answerOf(r, Array.from({ length: r.count }, (_, i) => (r.fc <= 2 ? (i + 1) % 2 : (r.address + i) & 0xffff))));
};

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
    for (const bad of [req({ fc: 5 as 3 }), req({ count: 126 }), req({ fc: 1, count: 2001 }), req({ address: 0xffff, count: 2 }), req({ unitId: 256 }), req({ timeoutMs: 0 })]) {
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
});

const requestLabelOf = (r: ModbusReadRequest) => `unit ${r.unitId} fc ${r.fc} ${r.address}+${r.count}`;

