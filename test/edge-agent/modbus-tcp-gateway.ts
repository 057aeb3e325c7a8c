/**
 * A Modbus TCP gateway for the client's tests (modbus-tcp.test.ts): a TCP
 * server on 127.0.0.1 that records each read request's bytes and answers
 * with exactly the bytes the test's `answer` writes (split, joined, late,
 * broken), and the frames to write (Modbus Messaging on TCP/IP v1.0b: the
 * MBAP header; Modbus Application Protocol v1.1b3: read PDUs, exceptions).
 */
import net from 'node:net';

export interface Request {
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

export type Answerer = (r: Request, sock: net.Socket) => void;

export interface Gateway {
  port: number;
  requests: Request[];
  connections: number;
  answer: Answerer;
  stop(): Promise<void>;
}

export async function scriptedGateway(answer: Answerer): Promise<Gateway> {
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
  return g;
}

/** An MBAP frame around `pdu`; `length`/`protocol` override the header's fields. */
export function frame(tid: number, unit: number, pdu: number[], o: { protocol?: number; length?: number } = {}): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(tid, 0);
  b.writeUInt16BE(o.protocol ?? 0, 2);
  b.writeUInt16BE(o.length ?? pdu.length + 1, 4);
  b[6] = unit;
  Buffer.from(pdu).copy(b, 7);
  return b;
}

/** A good answer to `r`: registers as 16-bit words, or bits packed LSB first. */
export function answerOf(r: Request, values: number[]): Buffer {
  if (r.fc <= 2) {
    const bytes = new Array<number>((values.length + 7) >> 3).fill(0);
    values.forEach((v, i) => (bytes[i >> 3]! |= (v ? 1 : 0) << (i & 7)));
    return frame(r.tid, r.unit, [r.fc, bytes.length, ...bytes]);
  }
  return frame(r.tid, r.unit, [r.fc, values.length * 2, ...values.flatMap((v) => [v >> 8, v & 0xff])]);
}

/** Answers registers address, address+1, … and bits alternating 1, 0, … */
export const counting: Answerer = (r, sock) => {
  sock.write(answerOf(r, Array.from({ length: r.count }, (_, i) => (r.fc <= 2 ? (i + 1) % 2 : (r.address + i) & 0xffff))));
};
