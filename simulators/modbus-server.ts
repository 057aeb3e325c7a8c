/**
 * A Modbus TCP server that answers like an RS-485 gateway with several meters
 * behind it: many unit ids on one host:port, each a meter model with its
 * register map. The register image is computed from the model at read time.
 *
 * Built on modbus-serial's ServerTCP. Facts about it this file relies on
 * (modbus-serial 8.0.x, servers/servertcp.js and servertcp_handler.js):
 * - the vector's functions are told apart by their declared arity
 *   (`fn.length`): with a trailing callback parameter they may answer later or
 *   never, which is how a dead unit stays silent;
 * - an error passed to the callback with a numeric `modbusErrorCode` becomes
 *   that Modbus exception; any other error becomes 04 (slave device failure);
 * - a write function code whose setter is missing from the vector is silently
 *   not answered, so the setters here answer 01 (illegal function) instead;
 * - on FC 04 the handler indexes the values array even when an error is
 *   passed (`cb(err, values[i])`), so an error without an array turns into a
 *   TypeError and exception 04; errors are passed with an empty array;
 * - `port: 0` is replaced by 502 (`options.port || 502`), so a free port is
 *   asked for with the string "0", which net.Server.listen accepts.
 */
import type { AddressInfo, Server } from 'node:net';
import { ServerTCP } from 'modbus-serial';
import { dtsu666RegisterMap } from './dtsu666.ts';
import { SimulatorError } from './errors.ts';
import type { MeterModel, MeterOverrides, ModelQuantity } from './meter-model.ts';
import { MODBUS_EXCEPTION, readRegisters, type RegisterMap } from './register-map.ts';

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
}

export interface ModbusSimulatorStats {
  /** read requests received, answered or not */
  requests: number;
  /** requests answered with a Modbus exception */
  exceptions: number;
  /** requests left unanswered: dead or unknown unit */
  unanswered: number;
}

export interface ModbusSimulator {
  readonly host: string;
  /** the port actually listened on */
  readonly port: number;
  setOverride(unitId: number, values: MeterOverrides): void;
  clearOverride(unitId: number, ...quantities: ModelQuantity[]): void;
  /** A dead unit does not answer at all, like a meter that lost power or its RS-485 pair. */
  setDead(unitId: number, dead: boolean): void;
  stats(): ModbusSimulatorStats;
  /** Closes the listening socket and every client connection. Idempotent. */
  stop(): Promise<void>;
}

type Cb<T> = (err: Error | null, value?: T) => void;

/** modbus-serial's ServerTCP keeps its net.Server here; the typings do not declare it. */
interface ServerTcpInternals {
  _server: Server;
}

function modbusError(code: number, message: string): Error {
  return Object.assign(new Error(message), { modbusErrorCode: code });
}

interface UnitState {
  model: MeterModel;
  map: RegisterMap;
  dead: boolean;
}

export async function startModbusSimulator(opts: ModbusSimulatorOptions): Promise<ModbusSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const clock = opts.clock ?? Date.now;
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535)
    throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `port must be an integer 0..65535, got ${opts.port}`);
  const units = new Map<number, UnitState>();
  for (const u of opts.units) {
    if (!Number.isInteger(u.unitId) || u.unitId < 1 || u.unitId > 247)
      throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `unit id must be an integer 1..247, got ${u.unitId}`);
    if (units.has(u.unitId)) throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `unit id ${u.unitId} given twice`);
    units.set(u.unitId, { model: u.model, map: u.registerMap ?? dtsu666RegisterMap(), dead: false });
  }
  const stats: ModbusSimulatorStats = { requests: 0, exceptions: 0, unanswered: 0 };

  function serve(fc: 3 | 4, address: number, count: number, unitId: number, cb: Cb<number[]>): void {
    stats.requests++;
    const unit = units.get(unitId);
    if (!unit || unit.dead) {
      stats.unanswered++;
      return; // no answer at all: the client's timeout is the only signal
    }
    let words: number[];
    try {
      const r = readRegisters(unit.map, unit.model.sample(clock()), fc, address, count);
      if (!r.ok) {
        stats.exceptions++;
        cb(modbusError(r.exception, `exception ${r.exception} for fc ${fc} ${address}+${count}`), []);
        return;
      }
      words = r.words;
    } catch (err) {
      stats.exceptions++;
      cb(modbusError(MODBUS_EXCEPTION.SLAVE_DEVICE_FAILURE, `model failed: ${(err as Error).message}`), []);
      return;
    }
    cb(null, words);
  }
  const one = (cb: Cb<number>): Cb<number[]> => (err, words) => (err ? cb(err) : cb(null, words?.[0]));
  const readOnly = (cb: Cb<unknown>) => {
    stats.requests++;
    stats.exceptions++;
    cb(modbusError(MODBUS_EXCEPTION.ILLEGAL_FUNCTION, 'the simulated meter is read-only'));
  };
  const noBits = (cb: Cb<boolean>) => {
    stats.requests++;
    stats.exceptions++;
    cb(modbusError(MODBUS_EXCEPTION.ILLEGAL_DATA_ADDRESS, 'the simulated meter has no coils or discrete inputs'));
  };

  // Every function declares its callback parameter: ServerTCP picks the
  // callback calling convention by arity (see the header comment).
  const vector = {
    getHoldingRegister: (addr: number, unitId: number, cb: Cb<number>) => serve(3, addr, 1, unitId, one(cb)),
    getMultipleHoldingRegisters: (addr: number, len: number, unitId: number, cb: Cb<number[]>) => serve(3, addr, len, unitId, cb),
    getInputRegister: (addr: number, unitId: number, cb: Cb<number>) => serve(4, addr, 1, unitId, one(cb)),
    getMultipleInputRegisters: (addr: number, len: number, unitId: number, cb: Cb<number[]>) => serve(4, addr, len, unitId, cb),
    getCoil: (_addr: number, _unitId: number, cb: Cb<boolean>) => noBits(cb),
    getDiscreteInput: (_addr: number, _unitId: number, cb: Cb<boolean>) => noBits(cb),
    setRegister: (_addr: number, _value: number, _unitId: number, cb: Cb<unknown>) => readOnly(cb),
    setRegisterArray: (_addr: number, _value: number[], _unitId: number, cb: Cb<unknown>) => readOnly(cb),
    setCoil: (_addr: number, _value: boolean, _unitId: number, cb: Cb<unknown>) => readOnly(cb),
  };

  // `port: 0` would become 502 inside ServerTCP; the string "0" survives and asks the OS for a free port.
  const server = new ServerTCP(vector as never, { host, port: (opts.port === 0 ? '0' : opts.port) as number });
  const net = (server as unknown as ServerTcpInternals)._server;
  server.on('error', () => undefined); // never emitted for reads; a listener keeps a stray one from crashing the process
  server.on('socketError', () => undefined); // a client that resets its connection is not our failure
  await new Promise<void>((resolve, reject) => {
    const onErr = (err: Error) => {
      server.off('initialized', onOk);
      reject(new SimulatorError('GW_ERR_SIM_LISTEN', `cannot listen on ${host}:${opts.port}: ${err.message}`, { cause: err, retryable: true }));
    };
    const onOk = () => {
      server.off('serverError', onErr);
      resolve();
    };
    server.once('serverError', onErr);
    server.once('initialized', onOk);
  });
  const port = (net.address() as AddressInfo).port;

  const unitOf = (unitId: number): UnitState => {
    const u = units.get(unitId);
    if (!u) throw new SimulatorError('GW_ERR_SIM_UNKNOWN_UNIT', `no simulated unit ${unitId} on ${host}:${port}`);
    return u;
  };
  let stopping: Promise<void> | undefined;

  return {
    host,
    port,
    setOverride: (unitId, values) => unitOf(unitId).model.setOverride(values),
    clearOverride: (unitId, ...quantities) => unitOf(unitId).model.clearOverride(...quantities),
    setDead: (unitId, dead) => {
      unitOf(unitId).dead = dead;
    },
    stats: () => ({ ...stats }),
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        // ServerTCP.close closes the listener and destroys every open client socket
        server.close(() => resolve());
      });
      return stopping;
    },
  };
}
