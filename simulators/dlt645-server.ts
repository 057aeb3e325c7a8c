/**
 * DL/T 645-2007 meters on one bus: on a serial port (one end of a socat pty
 * pair in tests) or behind a transparent TCP gateway. Every meter answers for
 * its own address, with the same load models and faults as the Modbus
 * simulators; a dead meter, and an address nobody has, says nothing.
 *
 * Answers: 11H read → 91H (or B1H and continuations on 12H when the meter's
 * `maxValueBytes` is smaller than the value), D1H with error byte 02 (no
 * such data) for an identifier it does not have, or the `exception` fault's
 * error byte; 13H to AA×6 → 93H with the address, but when several meters
 * are live they all answer at once and the line carries the garble; 08H
 * broadcast time sync is taken silently and counted. One answer at a time:
 * the bus is half duplex.
 */
import net from 'node:net';
import { SerialPort } from 'serialport';
import { SimulatorError } from './errors.ts';
import { listenSim, openSimSerial, ReplyTimers } from './sim-io.ts';
import type { Fault, FaultKind, GarbageMode } from './faults.ts';
import type { MeterModel, MeterOverrides, ModelQuantity } from './meter-model.ts';
import { MeterUnit } from './meter-unit.ts';
import { dtsu666RegisterMap } from './dtsu666.ts';
import { garble, identifierValue, simAddressBytes, simDiBytes, simFrame, simIdentifier, STATUS_WORD_7, statusWord7, takeRequests, type SimRequest } from './dlt645-map.ts';

export interface Dlt645SimMeter {
  /** 12 digits */
  address: string;
  model: MeterModel;
  /** a meter with a small buffer sends longer values in continuation frames (B1H, then 12H/92H), this many value bytes each */
  maxValueBytes?: number;
  /** how far the meter's clock (date 04000101, time 04000102, China Standard Time) runs ahead of the simulator's, s; default 0 */
  clockOffsetS?: number;
}

export type Dlt645SimTransport =
  | { kind: 'tcp'; host?: string; port: number }
  | {
      kind: 'serial';
      path: string;
      baudRate?: number;
      /**
       * A pty moves bytes at once whatever its baud rate; with this the meter
       * answers only after the request and its reply would have taken on a
       * real line (11 bits a byte, 8E1) plus `turnaroundMs`, so a bus reads at
       * the line's pace. Default false.
       */
      lineTime?: { turnaroundMs?: number };
    };

export interface Dlt645SimulatorOptions {
  transport: Dlt645SimTransport;
  meters: readonly Dlt645SimMeter[];
  /** epoch ms the models are sampled at; default Date.now */
  clock?: () => number;
  /** [0, 1) for fault probabilities and garbage bytes; default Math.random */
  random?: () => number;
}

export interface Dlt645SimulatorStats {
  requests: number;
  /** abnormal replies sent (D1H/D2H) */
  abnormal: number;
  /** requests nobody answered (dead meter, unknown address, broadcast) */
  unanswered: number;
  garbage: number;
  /** 08H broadcast time syncs heard */
  timeSyncs: number;
  /** bytes thrown away because they were not part of a well-formed request */
  droppedBytes: number;
  /** 13H address reads that several meters answered at once */
  collisions: number;
}

export interface Dlt645Simulator {
  /** "tcp://127.0.0.1:port" or the serial path */
  readonly where: string;
  /** the TCP port listened on (0 for serial) */
  readonly port: number;
  setOverride(address: string, values: MeterOverrides): void;
  clearOverride(address: string, ...quantities: ModelQuantity[]): void;
  setDead(address: string, dead: boolean): void;
  setFault(address: string, fault: Fault, durationMs?: number): void;
  clearFault(address: string, kind?: FaultKind): void;
  addresses(): string[];
  stats(): Dlt645SimulatorStats;
  /** the last time sync's data (ss mm hh DD MM YY, BCD as sent), if any */
  lastTimeSync(): number[] | undefined;
  stop(): Promise<void>;
}

interface SimMeter {
  unit: MeterUnit;
  a: number[];
  maxValueBytes: number;
  clockOffsetMs: number;
}

/**
 * The meter's date (04000101, YYMMDDWW: WW the weekday, 0 = Sunday) or time
 * (04000102, hhmmss) at `meterMs` in China Standard Time, BCD, least
 * significant byte first as on the wire; undefined for other identifiers.
 */
export function meterClockValue(di: string, meterMs: number): number[] | undefined {
  const d = new Date(meterMs + 8 * 3_600_000);
  const bcd = (n: number) => (Math.floor(n / 10) << 4) | n % 10;
  if (di === '04000101') return [bcd(d.getUTCDay()), bcd(d.getUTCDate()), bcd(d.getUTCMonth() + 1), bcd(d.getUTCFullYear() % 100)];
  if (di === '04000102') return [bcd(d.getUTCSeconds()), bcd(d.getUTCMinutes()), bcd(d.getUTCHours())];
  return undefined;
}

export async function startDlt645Simulator(opts: Dlt645SimulatorOptions): Promise<Dlt645Simulator> {
  const clock = opts.clock ?? Date.now;
  const random = opts.random ?? Math.random;
  const meters = new Map<string, SimMeter>();
  for (const m of opts.meters) {
    if (!/^[0-9]{12}$/.test(m.address)) throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `a DL/T 645 address is 12 digits, got "${m.address}"`);
    if (meters.has(m.address)) throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `address ${m.address} given twice`);
    // the Modbus register map is not used: the unit is here for its model and its faults
    meters.set(m.address, { unit: new MeterUnit(0, m.model, dtsu666RegisterMap(), clock, random), a: simAddressBytes(m.address), maxValueBytes: m.maxValueBytes ?? 196, clockOffsetMs: (m.clockOffsetS ?? 0) * 1000 });
  }
  const stats: Dlt645SimulatorStats = { requests: 0, abnormal: 0, unanswered: 0, garbage: 0, timeSyncs: 0, droppedBytes: 0, collisions: 0 };
  let lastSync: number[] | undefined;
  const timers = new ReplyTimers();
  let stopped = false;
  const delay = (ms: number) => timers.delay(ms);
  const meterOf = (address: string): SimMeter => {
    const m = meters.get(address);
    if (!m) throw new SimulatorError('GW_ERR_SIM_UNKNOWN_UNIT', `no simulated DL/T 645 meter ${address}`);
    return m;
  };

  /** The frame one meter sends for a request, or null for none. */
  function reply(m: SimMeter, req: SimRequest): { frame: Buffer; control: number; data: number[]; delayMs: number; garbage?: GarbageMode } | null {
    const now = clock();
    const faults = m.unit.faults(now).map((x) => x.fault);
    if (faults.some((f) => f.kind === 'dead')) return null;
    const slow = faults.find((f) => f.kind === 'slow');
    const delayMs = slow?.kind === 'slow' ? slow.delayMs : 0;
    const fn = req.control & 0x1f;
    let control: number;
    let data: number[];
    const abnormal = (err: number) => {
      stats.abnormal++;
      control = 0xc0 | fn;
      data = [err & 0xff];
    };
    const exc = faults.find((f) => f.kind === 'exception');
    if (fn === 0x13) {
      control = 0x93;
      data = [...m.a];
    } else if (exc?.kind === 'exception' && random() < (exc.probability ?? 1)) {
      abnormal(exc.code ?? 0x01);
    } else {
      const di = [...req.data.slice(0, 4)].reverse().map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join('');
      const id = req.data.length >= 4 ? simIdentifier(di) : undefined;
      const meterClock = fn === 0x11 ? meterClockValue(di, now + m.clockOffsetMs) : undefined;
      if (meterClock) {
        control = 0x91;
        data = [...simDiBytes(di), ...meterClock];
      } else if (fn === 0x11 && di === STATUS_WORD_7) {
        control = 0x91;
        data = [...simDiBytes(di), ...statusWord7(faults)];
      } else if (!id) abnormal(0x02); // no such data
      else {
        const value = identifierValue(id, m.unit.values(now));
        const seq = fn === 0x12 ? (req.data[4] ?? 0) : 0;
        const part = value.slice(seq * m.maxValueBytes, (seq + 1) * m.maxValueBytes);
        const more = (seq + 1) * m.maxValueBytes < value.length;
        if (fn === 0x12 && (seq === 0 || part.length === 0)) abnormal(0x01);
        else {
          control = 0x80 | (more ? 0x20 : 0) | fn;
          data = [...simDiBytes(di), ...part, ...(fn === 0x12 ? [seq] : [])];
        }
      }
    }
    const frame = simFrame(m.a, control!, data!);
    const g = faults.find((f) => f.kind === 'garbage');
    if (g?.kind === 'garbage' && random() < (g.probability ?? 1)) return { frame, control: control!, data: data!, delayMs, garbage: g.mode ?? 'random' };
    return { frame, control: control!, data: data!, delayMs };
  }

  /** the line time of the request and its reply, ms; 0 unless the serial transport asks for it */
  const lineMs = (reqBytes: number, replyBytes: number): number => {
    const t = opts.transport;
    if (t.kind !== 'serial' || !t.lineTime) return 0;
    // the master's FE preamble is not in reqBytes (the parser drops it): count the usual four
    return ((reqBytes + 4 + replyBytes) * 11 * 1000) / (t.baudRate ?? 2400) + (t.lineTime.turnaroundMs ?? 0);
  };

  async function handle(req: SimRequest, write: (b: Buffer) => Promise<void>): Promise<void> {
    stats.requests++;
    const fn = req.control & 0x1f;
    if (req.control & 0x80) return; // a reply heard on the bus: not for the meters
    if (fn === 0x08 && req.address.every((b) => b === 0x99)) {
      stats.timeSyncs++;
      stats.unanswered++;
      lastSync = req.data;
      return;
    }
    if (fn !== 0x11 && fn !== 0x12 && fn !== 0x13) {
      stats.unanswered++; // writes and the rest: this simulator is a read-only meter and stays silent
      return;
    }
    // AA in an address byte matches any meter's byte there (short addressing); 13H always goes to AA×6
    const addressed = [...meters.values()].filter((m) => req.address.every((b, i) => b === 0xaa || b === m.a[i]));
    const answers = addressed.map((m) => ({ m, r: reply(m, req) })).filter((x) => x.r !== null);
    if (answers.length === 0) {
      stats.unanswered++;
      return;
    }
    if (answers.length > 1) {
      // several transmitters on one RS-485 pair: a dominant 0 wins bit by bit, what arrives is their AND
      stats.collisions++;
      const len = Math.max(...answers.map((x) => x.r!.frame.length));
      const out = Buffer.alloc(len, 0xff);
      for (const { r } of answers) for (let i = 0; i < r!.frame.length; i++) out[i]! &= r!.frame[i]!;
      await write(out);
      return;
    }
    const { m, r } = answers[0]!;
    const wait = r!.delayMs + lineMs(12 + req.data.length, r!.frame.length);
    if (wait > 0) await delay(wait);
    if (stopped) return;
    if (r!.garbage) {
      stats.garbage++;
      await write(garble(r!.frame, m.a, r!.control, r!.data, r!.garbage, random));
    } else await write(r!.frame);
  }

  let chain = Promise.resolve();
  /** bytes in from the bus, in order; requests answered one at a time */
  const receiver = (write: (b: Buffer) => Promise<void>) => {
    let buf: Buffer = Buffer.alloc(0);
    return (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      const t = takeRequests(buf);
      stats.droppedBytes += t.dropped;
      // a stretch that can never complete is dropped rather than kept: no request is longer than 212 bytes
      buf = t.rest.length > 212 ? Buffer.alloc(0) : Buffer.from(t.rest);
      for (const req of t.requests) chain = chain.then(() => handle(req, write)).catch(() => undefined);
    };
  };

  const controls = {
    setOverride: (a: string, v: MeterOverrides) => meterOf(a).unit.model.setOverride(v),
    clearOverride: (a: string, ...q: ModelQuantity[]) => meterOf(a).unit.model.clearOverride(...q),
    setDead: (a: string, dead: boolean) => (dead ? meterOf(a).unit.setFault({ kind: 'dead' }) : meterOf(a).unit.clearFault('dead')),
    setFault: (a: string, f: Fault, ms?: number) => meterOf(a).unit.setFault(f, ms),
    clearFault: (a: string, kind?: FaultKind) => meterOf(a).unit.clearFault(kind),
    addresses: () => [...meters.keys()],
    stats: () => ({ ...stats }),
    lastTimeSync: () => lastSync,
  };

  const t = opts.transport;
  if (t.kind === 'serial') {
    const port = new SerialPort({ path: t.path, baudRate: t.baudRate ?? 2400, dataBits: 8, parity: 'even', stopBits: 1, autoOpen: false });
    await openSimSerial(port, t.path);
    port.on('data', receiver((b) => new Promise<void>((resolve) => port.write(b, () => port.drain(() => resolve())))));
    let stopping: Promise<void> | undefined;
    return {
      where: t.path,
      port: 0,
      ...controls,
      stop() {
        stopping ??= new Promise<void>((resolve) => {
          stopped = true;
          timers.clear();
          if (!port.isOpen) return resolve();
          port.close(() => resolve());
        });
        return stopping;
      },
    };
  }
  const host = t.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
    // a transparent gateway: every connection is the same bus
    sock.on('data', receiver((b) => new Promise<void>((resolve) => (sock.destroyed ? resolve() : sock.write(b, () => resolve())))));
  });
  const port = await listenSim(server, host, t.port);
  let stopping: Promise<void> | undefined;
  return {
    where: `tcp://${host}:${port}`,
    port,
    ...controls,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        stopped = true;
        timers.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return stopping;
    },
  };
}
