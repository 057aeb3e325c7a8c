/**
 * Meters on an RS-485 bus, as Modbus RTU over a serial port (Modbus over
 * Serial Line v1.02): the simulator is every slave on the bus, each unit id
 * answering for itself; an unknown unit id, like a dead meter, says nothing.
 *
 * Framing (§2.5.1.1): a frame is unit id, PDU, CRC-16 (low byte first);
 * frames are told apart by length — a read request (FC 01–04) and the single
 * writes are 8 bytes, the multiple writes carry their byte count — and by
 * their CRC; a stretch of bytes that is no frame is dropped byte by byte until
 * one starts (a master with another framing, noise on the line). One answer
 * at a time: the bus is half duplex.
 *
 * Tests run it on one end of a `socat` pty pair, the agent on the other.
 */
import { SerialPort } from 'serialport';
import { crc16 } from './crc16.ts';
import { openSimSerial, ReplyTimers } from './sim-io.ts';
import type { GarbageMode } from './faults.ts';
import { buildUnits, gatewayControls, type ModbusSimulatorStats, type SimulatedGateway, type SimulatedUnit } from './modbus-server.ts';

export interface ModbusRtuSimulatorOptions {
  /** serial device, e.g. /dev/ttyUSB0 or one end of a socat pty pair */
  path: string;
  /** default 9600 */
  baudRate?: number;
  units: readonly SimulatedUnit[];
  /** epoch ms the models are sampled at; default Date.now */
  clock?: () => number;
  /** [0, 1) for fault probabilities and garbage bytes; default Math.random */
  random?: () => number;
}

export interface ModbusRtuSimulatorStats extends ModbusSimulatorStats {
  /** bytes dropped because they were not part of a well-formed request (bad CRC, noise) */
  droppedBytes: number;
}

export interface ModbusRtuSimulator extends SimulatedGateway {
  readonly path: string;
  stats(): ModbusRtuSimulatorStats;
}

function rtuFrame(unitId: number, pdu: Uint8Array): Buffer {
  const b = Buffer.alloc(pdu.length + 3);
  b[0] = unitId;
  b.set(pdu, 1);
  b.writeUInt16LE(crc16(b, 0, b.length - 2), b.length - 2);
  return b;
}

function garbleRtu(unitId: number, pdu: Buffer, mode: GarbageMode, random: () => number): Buffer {
  switch (mode) {
    case 'random':
      return Buffer.from(Array.from({ length: 1 + Math.floor(random() * 24) }, () => Math.floor(random() * 256)));
    case 'truncated': {
      // a good CRC over a PDU cut short: the byte count promises more than the frame holds
      return rtuFrame(unitId, pdu.subarray(0, Math.max(2, Math.floor(pdu.length / 2))));
    }
    case 'corrupt': {
      const f = rtuFrame(unitId, pdu);
      f[f.length - 1]! ^= 0xff; // the CRC no longer matches
      return f;
    }
    case 'wrong_unit':
      return rtuFrame((unitId % 247) + 1, pdu);
    case 'wrong_function': {
      const p = Buffer.from(pdu);
      p[0] = p[0] === 3 ? 4 : 3;
      return rtuFrame(unitId, p);
    }
    default: {
      const never: never = mode;
      throw new Error(`unknown garbage mode ${String(never)}`);
    }
  }
}

/** Length of the request frame starting at `b[0]`, or 0 when more bytes are needed, or -1 when its function code is unknown. */
function requestLength(b: Buffer): number {
  if (b.length < 2) return 0;
  const fc = b[1]!;
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) return b.length < 7 ? 0 : 9 + b[6]!;
  return -1;
}

export async function startModbusRtuSimulator(opts: ModbusRtuSimulatorOptions): Promise<ModbusRtuSimulator> {
  const clock = opts.clock ?? Date.now;
  const random = opts.random ?? Math.random;
  const baudRate = opts.baudRate ?? 9600;
  const units = buildUnits(opts.units, clock, random);
  const stats: ModbusRtuSimulatorStats = { requests: 0, exceptions: 0, unanswered: 0, garbage: 0, droppedBytes: 0 };
  const port = new SerialPort({ path: opts.path, baudRate, autoOpen: false });
  await openSimSerial(port, opts.path);
  const timers = new ReplyTimers();
  let stopped = false;
  let buf: Buffer = Buffer.alloc(0);
  let chain = Promise.resolve();
  // 3.5 character times of silence end a frame (§2.5.1.1); 11 bits per character
  const silenceMs = Math.max(2, Math.ceil(((3.5 * 11) / baudRate) * 1000));
  let silence: NodeJS.Timeout | null = null;

  const delay = (ms: number) => timers.delay(ms);

  async function answer(frame: Buffer): Promise<void> {
    const unitId = frame[0]!;
    stats.requests++;
    if (unitId === 0) return; // broadcast: nobody answers (§2.1)
    const unit = units.get(unitId);
    const a = unit ? unit.answer(frame.subarray(1, -2)) : ({ kind: 'silent' } as const);
    if (a.kind === 'silent') {
      stats.unanswered++;
      return;
    }
    if (a.delayMs > 0) await delay(a.delayMs);
    if (stopped) return;
    let out: Buffer;
    if (a.garbage) {
      stats.garbage++;
      out = garbleRtu(unitId, a.pdu, a.garbage, random);
    } else {
      if (a.pdu[0]! & 0x80) stats.exceptions++;
      out = rtuFrame(unitId, a.pdu);
    }
    await new Promise<void>((resolve) => port.write(out, () => port.drain(() => resolve())));
  }

  /** Takes whole frames off the front of the buffer; `final` (after silence) drops what cannot become one. */
  function parse(final: boolean): void {
    for (;;) {
      if (buf.length === 0) return;
      const n = requestLength(buf);
      if (n === 0 || (n > 0 && buf.length < n)) {
        if (!final) return;
        stats.droppedBytes += buf.length; // an incomplete frame followed by silence
        buf = Buffer.alloc(0);
        return;
      }
      if (n > 0 && crc16(buf, 0, n - 2) === buf.readUInt16LE(n - 2)) {
        const frame = Buffer.from(buf.subarray(0, n));
        buf = buf.subarray(n);
        chain = chain.then(() => answer(frame)).catch(() => undefined);
        continue;
      }
      // not a frame here: resynchronise one byte on
      stats.droppedBytes++;
      buf = buf.subarray(1);
    }
  }

  port.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    parse(false);
    if (silence) clearTimeout(silence);
    silence = setTimeout(() => {
      silence = null;
      parse(true);
    }, silenceMs);
  });

  let stopping: Promise<void> | undefined;
  return {
    path: opts.path,
    ...gatewayControls(units, opts.path),
    stats: () => ({ ...stats }),
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        stopped = true;
        if (silence) clearTimeout(silence);
        timers.clear();
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      });
      return stopping;
    },
  };
}
