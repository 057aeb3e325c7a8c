/**
 * One Modbus connection per gateway host:port (TCP) or serial line (RTU),
 * over modbus-serial's client. Requests go strictly one at a time, with an
 * optional gap between frames: an RS-485 bus carries one request at a time,
 * and modbus-serial keeps one unit id per client (`setID`), so requests for
 * different units cannot overlap on one client.
 *
 * A link whose byte stream may be out of step is dropped and opened again
 * rather than trusted: after an answer that could not be used, and after a
 * timeout that left bytes of an unfinished frame behind (a frame whose MBAP
 * length promised more than came keeps modbus-serial's TCP port waiting for
 * bytes that never arrive, so every later answer on that socket would be lost).
 * On RTU, bytes left from an earlier, late or broken answer are discarded
 * before each request: the master of a half-duplex bus ignores what it
 * hears before it asks.
 *
 * Facts about modbus-serial 8.0.x this relies on (index.js, ports/tcpport.js):
 * - after the TCP socket closes, its TcpPort removes all its listeners and is
 *   dead; a new client is needed, so this class owns the socket (`linkTCP`)
 *   and builds a new client per connection;
 * - a request outstanding when the socket dies is only ended by the
 *   transaction timeout, so the socket's 'close' is raced against it here;
 * - the timeout error is not an `Error` (errno `ETIMEDOUT`), an exception
 *   response is an `Error` with numeric `modbusCode`;
 * - `setTimeout` before `connectTCP`/`linkTCP` would also become the socket's
 *   idle timeout, so it is only set per request, after linking;
 * - the TCP port keeps unparsed bytes in `_port._clientRcvData`, the RTU
 *   buffered port in `_port._buffer` (neither is public API; both are read
 *   defensively and only to decide whether to resynchronise);
 * - the client keeps each request in `_transactions` (by transaction id, up
 *   to 256 per TCP client) after it is answered; emptied after each request.
 */
import modbusSerial from 'modbus-serial';
import type { Logger } from 'pino';
import { LinkEnd } from './link-end.ts';
import { connectTcp } from './tcp-connect.ts';
import type { ReadFunctionCode } from './decode.ts';
import { ModbusError } from './errors.ts';

// a CommonJS package: under NodeNext the default import is `module.exports`,
// whose `default` is the client class (index.js sets it to itself)
const ModbusRTU = modbusSerial.default;
type ModbusRTU = InstanceType<typeof ModbusRTU>;

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
  read(req: ModbusReadRequest): Promise<number[]>;
}

interface LinkOptions {
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
  connected: boolean;
}

type LinkState = 'down' | 'up';

interface Link {
  client: ModbusRTU;
  /** ends when the link closes; raced against the request on the wire */
  closed: LinkEnd;
  /** closes the link (idempotent) */
  drop(): void;
}

/** The queue, the backoff and the error mapping; subclasses open the link. */
abstract class QueuedModbusConnection implements ModbusReader {
  protected readonly log: Logger;
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;
  private readonly frameGapMs: number;
  private link: Link | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  protected closing = false;
  private backoffMs = 0;
  private nextAttemptAt = 0;
  private linkState: LinkState = 'down';
  private readonly s = { requests: 0, failed: 0, connects: 0, connectFailures: 0, queued: 0, resyncs: 0 };

  constructor(opts: LinkOptions, log: Logger) {
    this.log = log;
    this.reconnectMinMs = opts.reconnectMinMs ?? 500;
    this.reconnectMaxMs = opts.reconnectMaxMs ?? 10_000;
    this.frameGapMs = opts.frameGapMs ?? 0;
  }

  /** "host:port" or the serial path, for messages */
  protected abstract get where(): string;
  /** Opens the link; throws when it cannot. */
  protected abstract open(onClose: (reason: string) => void): Promise<Link>;
  /** Unparsed bytes the client holds: a sign the stream is out of step. */
  protected abstract leftover(client: ModbusRTU): number;
  /** Called before each request on the link. */
  protected beforeRequest(_client: ModbusRTU): void {}

  stats(): ModbusConnectionStats {
    return { ...this.s, connected: this.link !== null };
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

  /** Lets the request on the wire finish, fails the queued ones, closes the link. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    await this.tail;
    this.dropLink('closed by the agent');
  }

  private closedError(): ModbusError {
    return new ModbusError('GW_ERR_MODBUS_CLOSED', `connection to ${this.where} is closed`);
  }

  private async execute(req: ModbusReadRequest): Promise<number[]> {
    if (this.closing) throw this.closedError();
    this.s.requests++;
    let link: Link | null = null;
    try {
      link = await this.ensureConnected();
      const client = link.client;
      this.beforeRequest(client);
      client.setID(req.unitId);
      client.setTimeout(req.timeoutMs);
      const op = this.send(client, req);
      const data = await link.closed.race(op);
      if (data.length < req.count)
        throw new ModbusError('GW_ERR_MODBUS_RESPONSE', `unit ${req.unitId} answered ${data.length} of ${req.count} requested`);
      return data.length === req.count ? data : data.slice(0, req.count);
    } catch (err) {
      this.s.failed++;
      const e = toModbusError(err, req);
      if (link && this.link === link && (e.code === 'GW_ERR_MODBUS_RESPONSE' || (e.code === 'GW_ERR_MODBUS_TIMEOUT' && this.leftover(link.client) > 0))) {
        this.s.resyncs++;
        this.dropLink(`resynchronising after ${e.code}`);
      }
      throw e;
    }
  }

  private async send(client: ModbusRTU, req: ModbusReadRequest): Promise<number[]> {
    try {
      return await this.request(client, req);
    } finally {
      forgetTransactions(client);
    }
  }

  private async request(client: ModbusRTU, req: ModbusReadRequest): Promise<number[]> {
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
  }

  private async ensureConnected(): Promise<Link> {
    if (this.link) return this.link;
    const now = performance.now();
    if (now < this.nextAttemptAt)
      throw new ModbusError('GW_ERR_MODBUS_CONNECT', `not connected to ${this.where}; next attempt in ${Math.ceil(this.nextAttemptAt - now)} ms`);
    let link: Link;
    try {
      link = await this.open((reason) => {
        if (this.link === link) this.dropLink(reason);
      });
    } catch (err) {
      this.s.connectFailures++;
      this.backoffMs = Math.min(this.reconnectMaxMs, Math.max(this.reconnectMinMs, this.backoffMs * 2));
      this.nextAttemptAt = performance.now() + this.backoffMs;
      this.setLink('down', (err as Error).message);
      throw new ModbusError('GW_ERR_MODBUS_CONNECT', `cannot connect to ${this.where}: ${(err as Error).message}`, { cause: err });
    }
    this.link = link;
    this.backoffMs = 0;
    this.nextAttemptAt = 0;
    this.s.connects++;
    this.setLink('up', 'connected');
    return link;
  }

  private dropLink(reason: string): void {
    const link = this.link;
    this.link = null;
    link?.drop();
    this.setLink('down', reason);
  }

  private setLink(to: LinkState, reason: string): void {
    if (this.linkState === to) return;
    const from = this.linkState;
    this.linkState = to;
    if (to === 'up') this.log.info({ from, to, reason }, 'modbus connection state changed');
    else if (!this.closing) this.log.warn({ from, to, reason }, 'modbus connection state changed');
  }
}

/**
 * modbus-serial keeps every request it sent (its callback, holding the
 * answer) in `_transactions` by transaction id until the id comes round
 * again: 256 of them per TCP client, about 1.4 kB each. Requests go one at a
 * time here, so once one has settled (answered, or its timer fired) none of
 * them is needed; the map is emptied.
 */
function forgetTransactions(client: ModbusRTU): void {
  const c = client as unknown as { _transactions?: unknown };
  if (typeof c._transactions === 'object' && c._transactions !== null) c._transactions = {};
}

function leftoverOf(client: ModbusRTU, field: '_clientRcvData' | '_buffer'): number {
  const port = (client as unknown as { _port?: Record<string, unknown> })._port;
  const b = port?.[field];
  return Buffer.isBuffer(b) ? b.length : 0;
}

/** Modbus TCP to one host:port (a meter, or an RS-485 gateway serving many unit ids). */
export class ModbusTcpConnection extends QueuedModbusConnection {
  readonly host: string;
  readonly port: number;
  private readonly connectTimeoutMs: number;

  /** Does no I/O: the connection opens on the first read. */
  constructor(opts: ModbusTcpConnectionOptions) {
    super(opts, opts.log.child({ host: opts.host, port: opts.port }));
    this.host = opts.host;
    this.port = opts.port;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
  }

  protected get where(): string {
    return `${this.host}:${this.port}`;
  }

  protected leftover(client: ModbusRTU): number {
    return leftoverOf(client, '_clientRcvData');
  }

  protected async open(onClose: (reason: string) => void): Promise<Link> {
    // no delay, keepalive: a gateway that vanishes without a FIN is found, not waited for forever
    const socket = await connectTcp(this.host, this.port, this.connectTimeoutMs);
    // listen before anything else can happen on the socket: an 'error' without a listener would throw
    let lastError: Error | undefined;
    socket.on('error', (err) => {
      lastError = err;
    });
    const client = new ModbusRTU();
    await client.linkTCP(socket, { port: this.port });
    const closed = new LinkEnd();
    socket.once('close', () => {
      closed.end(new ModbusError('GW_ERR_MODBUS_SOCKET', `connection to ${this.where} closed${lastError ? `: ${lastError.message}` : ''}`, { cause: lastError }));
      onClose(lastError ? lastError.message : 'closed by the peer');
    });
    return {
      client,
      closed,
      drop: () => {
        // cancels modbus-serial's transaction timers; the socket is destroyed with it
        client.destroy(() => undefined);
        socket.destroy();
      },
    };
  }
}

/** Modbus RTU on a serial line (RS-485 adapter): every unit id on the bus shares it. */
export class ModbusRtuConnection extends QueuedModbusConnection {
  readonly path: string;
  private readonly serial: Pick<ModbusRtuConnectionOptions, 'baudRate' | 'dataBits' | 'parity' | 'stopBits'>;

  /** Does no I/O: the port opens on the first read. */
  constructor(opts: ModbusRtuConnectionOptions) {
    super(opts, opts.log.child({ path: opts.path }));
    this.path = opts.path;
    this.serial = { baudRate: opts.baudRate, dataBits: opts.dataBits, parity: opts.parity, stopBits: opts.stopBits };
  }

  protected get where(): string {
    return this.path;
  }

  protected leftover(client: ModbusRTU): number {
    return leftoverOf(client, '_buffer');
  }

  protected override beforeRequest(client: ModbusRTU): void {
    const port = (client as unknown as { _port?: { _buffer?: unknown } })._port;
    if (port && Buffer.isBuffer(port._buffer) && port._buffer.length > 0) port._buffer = Buffer.alloc(0);
  }

  protected async open(onClose: (reason: string) => void): Promise<Link> {
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

interface ModbusSerialError {
  message?: string;
  errno?: string;
  modbusCode?: number;
}

function toModbusError(err: unknown, req: ModbusReadRequest): ModbusError {
  if (err instanceof ModbusError) return err;
  const e = (err ?? {}) as ModbusSerialError;
  const where = `unit ${req.unitId} fc ${req.fc} 0x${req.address.toString(16).toUpperCase().padStart(4, '0')}+${req.count}`;
  if (typeof e.modbusCode === 'number')
    return new ModbusError('GW_ERR_MODBUS_EXCEPTION', `${where}: ${e.message ?? `exception ${e.modbusCode}`}`, {
      cause: err,
      exceptionCode: e.modbusCode,
      // 02/03 are a wrong profile, not a passing fault; 04–06, 0A, 0B may pass
      retryable: e.modbusCode !== 1 && e.modbusCode !== 2 && e.modbusCode !== 3,
    });
  if (e.errno === 'ETIMEDOUT') return new ModbusError('GW_ERR_MODBUS_TIMEOUT', `${where}: no answer within ${req.timeoutMs} ms`, { cause: err });
  if (e.message === 'Port Not Open') return new ModbusError('GW_ERR_MODBUS_SOCKET', `${where}: connection not open`, { cause: err });
  return new ModbusError('GW_ERR_MODBUS_RESPONSE', `${where}: ${e.message ?? String(err)}`, { cause: err });
}
