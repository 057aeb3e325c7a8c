/**
 * One Modbus TCP connection per gateway host:port, over modbus-serial's
 * client. Requests go strictly one at a time: an RS-485 gateway answers one
 * request at a time, and modbus-serial keeps one unit id per client
 * (`setID`), so requests for different units cannot overlap on one client.
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
 *   idle timeout, so it is only set per request, after linking.
 */
import net from 'node:net';
import modbusSerial from 'modbus-serial';
import type { Logger } from 'pino';
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

export interface ModbusTcpConnectionOptions {
  host: string;
  port: number;
  log: Logger;
  /** longest wait for the TCP connect, ms; default 3000 */
  connectTimeoutMs?: number;
  /** reconnect backoff after a failed connect, ms; default 500 doubling to 10 000 */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export interface ModbusConnectionStats {
  requests: number;
  failed: number;
  connects: number;
  connectFailures: number;
  /** requests waiting behind the one on the wire */
  queued: number;
  connected: boolean;
}

type LinkState = 'down' | 'up';

export class ModbusTcpConnection implements ModbusReader {
  readonly host: string;
  readonly port: number;
  private readonly log: Logger;
  private readonly connectTimeoutMs: number;
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;

  private socket: net.Socket | null = null;
  private client: ModbusRTU | null = null;
  /** rejects when the current socket closes; raced against the request on the wire */
  private socketClosed: Promise<never> | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private closing = false;
  private backoffMs = 0;
  private nextAttemptAt = 0;
  private link: LinkState = 'down';
  private readonly s = { requests: 0, failed: 0, connects: 0, connectFailures: 0, queued: 0 };

  /** Does no I/O: the connection opens on the first read. */
  constructor(opts: ModbusTcpConnectionOptions) {
    this.host = opts.host;
    this.port = opts.port;
    this.log = opts.log.child({ host: opts.host, port: opts.port });
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3000;
    this.reconnectMinMs = opts.reconnectMinMs ?? 500;
    this.reconnectMaxMs = opts.reconnectMaxMs ?? 10_000;
  }

  stats(): ModbusConnectionStats {
    return { ...this.s, connected: this.socket !== null && this.client !== null };
  }

  /** Queues a read behind the ones already waiting; rejects with a ModbusError. */
  read(req: ModbusReadRequest): Promise<number[]> {
    if (this.closing) return Promise.reject(this.closedError());
    this.s.queued++;
    const run = this.tail.then(() => {
      this.s.queued--;
      return this.execute(req);
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Lets the request on the wire finish, fails the queued ones, closes the socket. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    await this.tail;
    this.dropSocket('closed by the agent');
  }

  private closedError(): ModbusError {
    return new ModbusError('GW_ERR_MODBUS_CLOSED', `connection to ${this.host}:${this.port} is closed`);
  }

  private async execute(req: ModbusReadRequest): Promise<number[]> {
    if (this.closing) throw this.closedError();
    this.s.requests++;
    try {
      const client = await this.ensureConnected();
      client.setID(req.unitId);
      client.setTimeout(req.timeoutMs);
      const op = this.send(client, req);
      const data = await Promise.race([op, this.socketClosed!]);
      if (data.length < req.count)
        throw new ModbusError('GW_ERR_MODBUS_RESPONSE', `unit ${req.unitId} answered ${data.length} of ${req.count} requested`);
      return data.length === req.count ? data : data.slice(0, req.count);
    } catch (err) {
      this.s.failed++;
      throw toModbusError(err, req);
    }
  }

  private async send(client: ModbusRTU, req: ModbusReadRequest): Promise<number[]> {
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

  private async ensureConnected(): Promise<ModbusRTU> {
    if (this.client && this.socket) return this.client;
    const now = performance.now();
    if (now < this.nextAttemptAt)
      throw new ModbusError('GW_ERR_MODBUS_CONNECT', `not connected to ${this.host}:${this.port}; next attempt in ${Math.ceil(this.nextAttemptAt - now)} ms`);
    const socket = net.createConnection({ host: this.host, port: this.port });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no TCP connection within ${this.connectTimeoutMs} ms`)), this.connectTimeoutMs);
        const finish = (err?: Error) => {
          clearTimeout(timer);
          socket.off('connect', onConnect);
          socket.off('error', finish);
          if (err) reject(err);
          else resolve();
        };
        const onConnect = () => finish();
        socket.once('connect', onConnect);
        socket.once('error', finish);
      });
    } catch (err) {
      socket.destroy();
      this.s.connectFailures++;
      this.backoffMs = Math.min(this.reconnectMaxMs, Math.max(this.reconnectMinMs, this.backoffMs * 2));
      this.nextAttemptAt = performance.now() + this.backoffMs;
      this.setLink('down', (err as Error).message);
      throw new ModbusError('GW_ERR_MODBUS_CONNECT', `cannot connect to ${this.host}:${this.port}: ${(err as Error).message}`, { cause: err });
    }
    socket.setNoDelay(true);
    // a gateway that vanishes without a FIN is found by TCP keepalive, not by waiting forever
    socket.setKeepAlive(true, 10_000);
    // listen before anything else can happen on the socket: an 'error' without a listener would throw
    let lastError: Error | undefined;
    socket.on('error', (err) => {
      lastError = err;
    });
    const client = new ModbusRTU();
    await client.linkTCP(socket, { port: this.port });
    this.socketClosed = new Promise<never>((_, reject) => {
      socket.once('close', () => {
        reject(new ModbusError('GW_ERR_MODBUS_SOCKET', `connection to ${this.host}:${this.port} closed${lastError ? `: ${lastError.message}` : ''}`, { cause: lastError }));
        if (this.socket === socket) this.dropSocket(lastError ? lastError.message : 'closed by the peer');
      });
    });
    this.socketClosed.catch(() => undefined);
    this.socket = socket;
    this.client = client;
    this.backoffMs = 0;
    this.nextAttemptAt = 0;
    this.s.connects++;
    this.setLink('up', 'connected');
    return client;
  }

  private dropSocket(reason: string): void {
    const socket = this.socket;
    const client = this.client;
    this.socket = null;
    this.client = null;
    // cancels modbus-serial's transaction timers; the socket is destroyed with it
    client?.destroy(() => undefined);
    socket?.destroy();
    this.setLink('down', reason);
  }

  private setLink(to: LinkState, reason: string): void {
    if (this.link === to) return;
    const from = this.link;
    this.link = to;
    if (to === 'up') this.log.info({ from, to, reason }, 'modbus connection state changed');
    else if (!this.closing) this.log.warn({ from, to, reason }, 'modbus connection state changed');
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
