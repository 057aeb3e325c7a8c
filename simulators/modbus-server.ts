/**
 * A Modbus TCP server that answers like an RS-485 gateway with several meters
 * behind it: many unit ids on one host:port, each a meter model with its
 * register map and its faults. The register image is computed from the model
 * at read time.
 *
 * The framing is our own (Modbus Messaging on TCP/IP Implementation Guide
 * v1.0b §3.1.3, the MBAP header: transaction id, protocol id 0, length of
 * unit id + PDU, unit id), so the simulator can answer late, not at all, or
 * with a broken frame — things a conforming server library will not do.
 * Answers go out in the order of the requests, except that a slow answer
 * (the `slow` fault) does not hold up the ones behind it: Modbus TCP pairs an
 * answer with its request by transaction id, not by order (§4.2).
 */
import net from 'node:net';
import { SimulatorError } from './errors.ts';
import { listenSim, ReplyTimers } from './sim-io.ts';
import type { Fault, FaultKind, GarbageMode } from './faults.ts';
import type { MeterModel, MeterOverrides, ModelQuantity } from './meter-model.ts';
import { MeterUnit } from './meter-unit.ts';
import { dtsu666RegisterMap } from './dtsu666.ts';
import type { RegisterMap } from './register-map.ts';

export interface SimulatedUnit {
  /** Modbus unit id (slave address) 1..247 */
  unitId: number;
  model: MeterModel;
  /** default: DTSU666 with import kWh at 0x401E */
  registerMap?: RegisterMap;
}

export interface ModbusSimulatorOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** 0 picks a free port */
  port: number;
  units: readonly SimulatedUnit[];
  /** epoch ms the models are sampled at; default Date.now */
  clock?: () => number;
  /** [0, 1) for fault probabilities and garbage bytes; default Math.random */
  random?: () => number;
}

export interface ModbusSimulatorStats {
  /** requests received, answered or not */
  requests: number;
  /** requests answered with a Modbus exception */
  exceptions: number;
  /** requests left unanswered: dead or unknown unit */
  unanswered: number;
  /** answers sent as broken frames (the garbage fault) */
  garbage: number;
}

/** What every simulated gateway (TCP or RTU) lets a test or a scenario do. */
export interface SimulatedGateway {
  setOverride(unitId: number, values: MeterOverrides): void;
  clearOverride(unitId: number, ...quantities: ModelQuantity[]): void;
  /** A dead unit does not answer at all, like a meter that lost power or its RS-485 pair. */
  setDead(unitId: number, dead: boolean): void;
  /** Puts a fault in force on a unit (replacing one of the same kind), for `durationMs` or until cleared. */
  setFault(unitId: number, fault: Fault, durationMs?: number): void;
  clearFault(unitId: number, kind?: FaultKind): void;
  unit(unitId: number): MeterUnit;
  unitIds(): number[];
  stats(): ModbusSimulatorStats;
  /** Closes everything it opened. Idempotent. */
  stop(): Promise<void>;
}

export interface ModbusSimulator extends SimulatedGateway {
  readonly host: string;
  /** the port actually listened on */
  readonly port: number;
}

/** Units by id, checked: 1..247, no id twice. */
export function buildUnits(units: readonly SimulatedUnit[], clock: () => number, random: () => number): Map<number, MeterUnit> {
  const map = new Map<number, MeterUnit>();
  for (const u of units) {
    if (!Number.isInteger(u.unitId) || u.unitId < 1 || u.unitId > 247)
      throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `unit id must be an integer 1..247, got ${u.unitId}`);
    if (map.has(u.unitId)) throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `unit id ${u.unitId} given twice`);
    map.set(u.unitId, new MeterUnit(u.unitId, u.model, u.registerMap ?? dtsu666RegisterMap(), clock, random));
  }
  return map;
}

/** The gateway operations shared by the TCP and RTU servers. */
export function gatewayControls(units: Map<number, MeterUnit>, where: string): Omit<SimulatedGateway, 'stats' | 'stop'> {
  const unitOf = (unitId: number): MeterUnit => {
    const u = units.get(unitId);
    if (!u) throw new SimulatorError('GW_ERR_SIM_UNKNOWN_UNIT', `no simulated unit ${unitId} on ${where}`);
    return u;
  };
  return {
    setOverride: (unitId, values) => unitOf(unitId).model.setOverride(values),
    clearOverride: (unitId, ...quantities) => unitOf(unitId).model.clearOverride(...quantities),
    setDead: (unitId, dead) => (dead ? unitOf(unitId).setFault({ kind: 'dead' }) : unitOf(unitId).clearFault('dead')),
    setFault: (unitId, fault, durationMs) => unitOf(unitId).setFault(fault, durationMs),
    clearFault: (unitId, kind) => unitOf(unitId).clearFault(kind),
    unit: unitOf,
    unitIds: () => [...units.keys()],
  };
}

function mbap(tid: number, unitId: number, pdu: Uint8Array, lengthField = pdu.length + 1): Buffer {
  const b = Buffer.alloc(7 + pdu.length);
  b.writeUInt16BE(tid & 0xffff, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt16BE(lengthField & 0xffff, 4);
  b[6] = unitId;
  b.set(pdu, 7);
  return b;
}

/** A TCP answer broken the way `mode` says. */
function garbleTcp(tid: number, unitId: number, pdu: Buffer, mode: GarbageMode, random: () => number): Buffer {
  switch (mode) {
    case 'random':
      // not even an MBAP header: whatever a confused converter might emit
      return Buffer.from(Array.from({ length: 1 + Math.floor(random() * 24) }, () => Math.floor(random() * 256)));
    case 'truncated':
      // a consistent MBAP header around a PDU cut short (its byte count promises more)
      return mbap(tid, unitId, pdu.subarray(0, Math.max(2, Math.floor(pdu.length / 2))));
    case 'corrupt':
      // the MBAP length promises 100 bytes more than ever come
      return mbap(tid, unitId, pdu, pdu.length + 101);
    case 'wrong_unit':
      return mbap(tid, (unitId % 247) + 1, pdu);
    case 'wrong_function': {
      const p = Buffer.from(pdu);
      p[0] = p[0] === 3 ? 4 : 3;
      return mbap(tid, unitId, p);
    }
    default: {
      const never: never = mode;
      throw new Error(`unknown garbage mode ${String(never)}`);
    }
  }
}

export async function startModbusSimulator(opts: ModbusSimulatorOptions): Promise<ModbusSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const clock = opts.clock ?? Date.now;
  const random = opts.random ?? Math.random;
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
    throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `port must be an integer 0..65535, got ${opts.port}`);
  const units = buildUnits(opts.units, clock, random);
  const stats: ModbusSimulatorStats = { requests: 0, exceptions: 0, unanswered: 0, garbage: 0 };
  const sockets = new Set<net.Socket>();
  const timers = new ReplyTimers();
  let stopped = false;

  const delay = (ms: number) => timers.delay(ms);

  async function answer(sock: net.Socket, frame: Buffer): Promise<void> {
    const tid = frame.readUInt16BE(0);
    const unitId = frame[6]!;
    const pdu = frame.subarray(7);
    stats.requests++;
    const unit = units.get(unitId);
    const a = unit ? unit.answer(pdu) : ({ kind: 'silent' } as const);
    if (a.kind === 'silent') {
      stats.unanswered++;
      return; // no answer at all: the client's timeout is the only signal
    }
    if (a.delayMs > 0) await delay(a.delayMs);
    if (stopped || sock.destroyed) return;
    if (a.garbage) {
      stats.garbage++;
      sock.write(garbleTcp(tid, unitId, a.pdu, a.garbage, random));
      return;
    }
    if (a.pdu[0]! & 0x80) stats.exceptions++;
    sock.write(mbap(tid, unitId, a.pdu));
  }

  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('error', () => undefined); // a client that resets its connection is not our failure
    sock.on('close', () => sockets.delete(sock));
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 7) {
        const len = buf.readUInt16BE(4);
        // a protocol id other than 0 or a length no PDU has: not Modbus, hang up like a gateway would
        if (buf.readUInt16BE(2) !== 0 || len < 2 || len > 254) {
          sock.destroy();
          return;
        }
        if (buf.length < 6 + len) break;
        const frame = buf.subarray(0, 6 + len);
        buf = buf.subarray(6 + len);
        answer(sock, frame).catch(() => undefined);
      }
    });
  });
  const port = await listenSim(server, host, opts.port);
  server.on('error', () => undefined);
  let stopping: Promise<void> | undefined;

  return {
    host,
    port,
    ...gatewayControls(units, `${host}:${port}`),
    stats: () => ({ ...stats }),
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
