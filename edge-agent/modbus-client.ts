/**
 * Modbus connections: what every connection shares (the `ModbusReader`
 * interface, reconnect backoff, link state logging, stats, the exception
 * rule) and Modbus RTU on a serial line. Modbus TCP is our own client
 * (modbus-tcp.ts); RTU goes through modbus-serial's client, which is loaded
 * when the first RTU connection opens, so an agent with TCP gateways only
 * never evaluates it.
 *
 * RTU requests go strictly one at a time, with an optional gap between
 * frames: an RS-485 bus carries one request at a time, and modbus-serial
 * keeps one unit id per client (`setID`), so requests for different units
 * cannot overlap on one client. Bytes left from an earlier, late or broken
 * answer are discarded before each request: the master of a half-duplex bus
 * ignores what it hears before it asks. A port whose byte stream may be out
 * of step (after an answer that could not be used, or a timeout that left
 * bytes of an unfinished frame behind) is closed and opened again.
 *
 * Facts about modbus-serial 8.0.x the RTU connection relies on (index.js,
 * ports/rtubufferedport.js):
 * - the timeout error is not an `Error` (errno `ETIMEDOUT`), an exception
 *   response is an `Error` with numeric `modbusCode`;
 * - a request outstanding when the port closes is only ended by the
 *   transaction timeout, so the port's 'close' is raced against it here;
 * - the buffered port keeps unparsed bytes in `_port._buffer` (not public
 *   API: read defensively, to discard and to decide whether to resynchronise);
 * - the client keeps each request in `_transactions` after it is answered;
 *   emptied after each request.
 */
import type modbusSerial from 'modbus-serial';
import type { Logger } from './log.ts';
import { LinkEnd } from './link-end.ts';
import type { ReadFunctionCode } from './decode.ts';
import { ModbusError } from './errors.ts';

type ModbusRTU = InstanceType<typeof modbusSerial.default>;

export interface ModbusReadRequest {
  /** Modbus unit id (slave address) */
  unitId: number;
  fc: ReadFunctionCode;
  address: number;
  /** registers (FC 03/04) or bits (FC 01/02) */
  count: number;
  /** how long to wait for this answer, ms */
  timeoutMs: number;
}

/** What a poller needs from a connection: one read at a time, answers as numbers (bits as 0/1). */
export interface ModbusReader {
  /**
   * The registers or bits `req` asks for. `into`, an array of the caller's:
   * a connection may write the values into it (its length set to the count)
   * and return it instead of a new array (Modbus TCP does, RTU does not), so
   * a caller that decodes the values as soon as the read resolves, before
   * any other I/O, can use one array for all its reads.
   */
  read(req: ModbusReadRequest, into?: number[]): Promise<number[]>;
}

export interface LinkOptions {
  log: Logger;
  /** reconnect backoff after a failed connect, ms; default 500 doubling to 10 000 */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** silence between the end of one exchange and the next request, ms; default 0 */
  frameGapMs?: number;
}

export interface ModbusTcpConnectionOptions extends LinkOptions {
  host: string;
  port: number;
  /** longest wait for the TCP connect, ms; default 3000 */
  connectTimeoutMs?: number;
}

export const PARITIES = ['none', 'even', 'odd'] as const;
export type Parity = (typeof PARITIES)[number];

export interface ModbusRtuConnectionOptions extends LinkOptions {
  /** serial device, e.g. /dev/ttyUSB0 */
  path: string;
  baudRate: number;
  dataBits: 7 | 8;
  parity: Parity;
  stopBits: 1 | 2;
}

export interface ModbusConnectionStats {
  requests: number;
  failed: number;
  connects: number;
  connectFailures: number;
  /** requests waiting behind the one on the wire */
  queued: number;
  /** links dropped and reopened because the byte stream could be out of step */
  resyncs: number;
  /** answers that came after their request had timed out, recognised and dropped (TCP) */
  lateAnswers: number;
  connected: boolean;
}

type LinkState = 'down' | 'up';

/** "unit 1 fc 3 0x2000+70": a request, for messages */
export function requestLabel(req: ModbusReadRequest): string {
  if (typeof req !== 'object' || req === null) return String(req);
  const address = Number.isInteger(req.address) ? `0x${req.address.toString(16).toUpperCase().padStart(4, '0')}` : String(req.address);
  return `unit ${String(req.unitId)} fc ${String(req.fc)} ${address}+${String(req.count)}`;
}

/** Modbus Application Protocol v1.1b3 §7 */
const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

/** A Modbus exception answer as the agent's error: 01–03 mean a wrong profile, not a passing fault. */
export function exceptionError(req: ModbusReadRequest, exceptionCode: number, cause?: unknown): ModbusError {
  return new ModbusError('GW_ERR_MODBUS_EXCEPTION', `${requestLabel(req)}: Modbus exception ${exceptionCode}: ${EXCEPTION_NAMES[exceptionCode] ?? 'unknown exception'}`, {
    cause,
    exceptionCode,
    // 02/03 are a wrong profile, not a passing fault; 04–06, 0A, 0B may pass
    retryable: exceptionCode !== 1 && exceptionCode !== 2 && exceptionCode !== 3,
  });
}

/** Reconnect backoff, link state logging and the counters every connection keeps. */
export abstract class ModbusLink {
  protected readonly log: Logger;
  protected readonly frameGapMs: number;
  protected closing = false;
  protected readonly s = { requests: 0, failed: 0, connects: 0, connectFailures: 0, queued: 0, resyncs: 0, lateAnswers: 0 };
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;
  private backoffMs = 0;
  private nextAttemptAt = 0;
  private linkState: LinkState = 'down';

  constructor(opts: LinkOptions, log: Logger) {
    this.log = log;
    this.reconnectMinMs = opts.reconnectMinMs ?? 500;
    this.reconnectMaxMs = opts.reconnectMaxMs ?? 10_000;
    this.frameGapMs = opts.frameGapMs ?? 0;
  }

  /** "host:port" or the serial path, for messages */
  protected abstract get where(): string;
  protected abstract get isConnected(): boolean;

  stats(): ModbusConnectionStats {
    return { ...this.s, connected: this.isConnected };
  }

  protected closedError(): ModbusError {
    return new ModbusError('GW_ERR_MODBUS_CLOSED', `connection to ${this.where} is closed`);
  }

  /** Throws GW_ERR_MODBUS_CONNECT while the backoff after a failed connect lasts. */
  protected checkBackoff(): void {
    const now = performance.now();
    if (now < this.nextAttemptAt)
      throw new ModbusError('GW_ERR_MODBUS_CONNECT', `not connected to ${this.where}; next attempt in ${Math.ceil(this.nextAttemptAt - now)} ms`);
  }

  /** A connect failed: counted, backed off, logged; the error for the request that wanted it. */
  protected connectFailed(err: unknown): ModbusError {
    const message = err instanceof Error ? err.message : String(err);
    this.s.connectFailures++;
    this.backoffMs = Math.min(this.reconnectMaxMs, Math.max(this.reconnectMinMs, this.backoffMs * 2));
    this.nextAttemptAt = performance.now() + this.backoffMs;
    this.setLink('down', message);
    return new ModbusError('GW_ERR_MODBUS_CONNECT', `cannot connect to ${this.where}: ${message}`, { cause: err });
  }

  protected connected(): void {
    this.backoffMs = 0;
    this.nextAttemptAt = 0;
    this.s.connects++;
    this.setLink('up', 'connected');
  }

  protected setLink(to: LinkState, reason: string): void {
    if (this.linkState === to) return;
    const from = this.linkState;
    this.linkState = to;
    if (to === 'up') this.log.info({ from, to, reason }, 'modbus connection state changed');
    else if (!this.closing) this.log.warn({ from, to, reason }, 'modbus connection state changed');
  }
}

interface RtuLink {
  client: ModbusRTU;
  /** ends when the link closes; raced against the request on the wire */
  closed: LinkEnd;
  /** closes the link (idempotent) */
  drop(): void;
}

let modbusSerialClass: Promise<typeof modbusSerial.default> | null = null;

/** modbus-serial, evaluated on the first call (a CommonJS package: `default` of `module.exports` is the client class) */
function loadModbusSerial(): Promise<typeof modbusSerial.default> {
  modbusSerialClass ??= import('modbus-serial').then((m) => m.default.default);
  return modbusSerialClass;
}

/** Modbus RTU on a serial line (RS-485 adapter): every unit id on the bus shares it. */
export class ModbusRtuConnection extends ModbusLink implements ModbusReader {
  readonly path: string;
  private readonly serial: Pick<ModbusRtuConnectionOptions, 'baudRate' | 'dataBits' | 'parity' | 'stopBits'>;
  private link: RtuLink | null = null;
  private tail: Promise<unknown> = Promise.resolve();

  /** Does no I/O: the port opens on the first read. */
  constructor(opts: ModbusRtuConnectionOptions) {
    super(opts, opts.log.child({ path: opts.path }));
    this.path = opts.path;
    this.serial = { baudRate: opts.baudRate, dataBits: opts.dataBits, parity: opts.parity, stopBits: opts.stopBits };
  }

  protected get where(): string {
    return this.path;
  }

  protected get isConnected(): boolean {
    return this.link !== null;
  }

  /** Queues a read behind the ones already waiting; rejects with a ModbusError. */
  read(req: ModbusReadRequest): Promise<number[]> {
    if (this.closing) return Promise.reject(this.closedError());
    this.s.queued++;
    const run = this.tail.then(() => {
      this.s.queued--;
      return this.execute(req);
    });
    const gap = this.frameGapMs;
    this.tail = run.catch(() => undefined).then(() => (gap > 0 && !this.closing ? new Promise((r) => setTimeout(r, gap)) : undefined));
    return run;
  }

  /** Lets the request on the wire finish, fails the queued ones, closes the port. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    await this.tail;
    this.dropLink('closed by the agent');
  }

  private async execute(req: ModbusReadRequest): Promise<number[]> {
    if (this.closing) throw this.closedError();
    this.s.requests++;
    let link: RtuLink | null = null;
    try {
      link = await this.ensureConnected();
      const client = link.client;
      discardLeftover(client);
      client.setID(req.unitId);
      client.setTimeout(req.timeoutMs);
      const data = await link.closed.race(this.send(client, req));
      if (data.length < req.count)
        throw new ModbusError('GW_ERR_MODBUS_RESPONSE', `unit ${req.unitId} answered ${data.length} of ${req.count} requested`);
      return data.length === req.count ? data : data.slice(0, req.count);
    } catch (err) {
      this.s.failed++;
      const e = toModbusError(err, req);
      if (link && this.link === link && (e.code === 'GW_ERR_MODBUS_RESPONSE' || (e.code === 'GW_ERR_MODBUS_TIMEOUT' && leftover(link.client) > 0))) {
        this.s.resyncs++;
        this.dropLink(`resynchronising after ${e.code}`);
      }
      throw e;
    }
  }

  private async send(client: ModbusRTU, req: ModbusReadRequest): Promise<number[]> {
    try {
      switch (req.fc) {
        case 1:
          return (await client.readCoils(req.address, req.count)).data.map(Number);
        case 2:
          return (await client.readDiscreteInputs(req.address, req.count)).data.map(Number);
        case 3:
          return (await client.readHoldingRegisters(req.address, req.count)).data;
        case 4:
          return (await client.readInputRegisters(req.address, req.count)).data;
        default: {
          // the type admits only 1–4; this guards a cast from outside
          const never: never = req.fc;
          throw new ModbusError('GW_ERR_MODBUS_RESPONSE', `refusing function code ${String(never)}: only reads (1–4) are sent`, { retryable: false });
        }
      }
    } finally {
      forgetTransactions(client);
    }
  }

  private async ensureConnected(): Promise<RtuLink> {
    if (this.link) return this.link;
    this.checkBackoff();
    let link: RtuLink;
    try {
      link = await this.open((reason) => {
        if (this.link === link) this.dropLink(reason);
      });
    } catch (err) {
      throw this.connectFailed(err);
    }
    this.link = link;
    this.connected();
    return link;
  }

  private dropLink(reason: string): void {
    const link = this.link;
    this.link = null;
    link?.drop();
    this.setLink('down', reason);
  }

  private async open(onClose: (reason: string) => void): Promise<RtuLink> {
    const ModbusRTU = await loadModbusSerial();
    const client = new ModbusRTU();
    await client.connectRTUBuffered(this.path, { ...this.serial });
    let lastError: Error | undefined;
    client.on('error', (err: unknown) => {
      lastError = err instanceof Error ? err : new Error(String(err));
    });
    let done = false;
    const closed = new LinkEnd();
    client.on('close', () => {
      if (done) return;
      done = true;
      closed.end(new ModbusError('GW_ERR_MODBUS_SOCKET', `serial port ${this.path} closed${lastError ? `: ${lastError.message}` : ''}`, { cause: lastError }));
      onClose(lastError ? lastError.message : 'port closed');
    });
    return {
      client,
      closed,
      drop: () => {
        if (client.isOpen) client.close(() => undefined);
      },
    };
  }
}

/**
 * modbus-serial keeps every request it sent (its callback, holding the
 * answer) in `_transactions` until its id comes round again. Requests go one
 * at a time here, so once one has settled (answered, or its timer fired)
 * none of them is needed; the map is emptied.
 */
function forgetTransactions(client: ModbusRTU): void {
  const c = client as unknown as { _transactions?: unknown };
  if (typeof c._transactions === 'object' && c._transactions !== null) c._transactions = {};
}

/** Unparsed bytes the buffered RTU port holds: a sign the stream is out of step. */
function leftover(client: ModbusRTU): number {
  const b = (client as unknown as { _port?: { _buffer?: unknown } })._port?._buffer;
  return Buffer.isBuffer(b) ? b.length : 0;
}

function discardLeftover(client: ModbusRTU): void {
  const port = (client as unknown as { _port?: { _buffer?: unknown } })._port;
  if (port && Buffer.isBuffer(port._buffer) && port._buffer.length > 0) port._buffer = Buffer.alloc(0);
}

interface ModbusSerialError {
  message?: string;
  errno?: string;
  modbusCode?: number;
}

function toModbusError(err: unknown, req: ModbusReadRequest): ModbusError {
  if (err instanceof ModbusError) return err;
  const e = (err ?? {}) as ModbusSerialError;
  const where = requestLabel(req);
  if (typeof e.modbusCode === 'number') return exceptionError(req, e.modbusCode, err);
  if (e.errno === 'ETIMEDOUT') return new ModbusError('GW_ERR_MODBUS_TIMEOUT', `${where}: no answer within ${req.timeoutMs} ms`, { cause: err });
  if (e.message === 'Port Not Open') return new ModbusError('GW_ERR_MODBUS_SOCKET', `${where}: connection not open`, { cause: err });
  return new ModbusError('GW_ERR_MODBUS_RESPONSE', `${where}: ${e.message ?? String(err)}`, { cause: err });
}
