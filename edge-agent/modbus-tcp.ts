/**
 * Modbus TCP to one host:port (a meter, or an RS-485 gateway serving many
 * unit ids): the agent's own client (frames in modbus-tcp-frame.ts).
 *
 * Requests go strictly one at a time per connection, with an optional gap
 * between frames: behind a gateway is an RS-485 bus that carries one request
 * at a time. A request waits for its answer up to its own timeout
 * (GW_ERR_MODBUS_TIMEOUT); a Modbus exception answer is
 * GW_ERR_MODBUS_EXCEPTION with its code; the connection closing under a
 * request is GW_ERR_MODBUS_SOCKET; a failed connect is GW_ERR_MODBUS_CONNECT,
 * and the next attempt waits a backoff (500 ms doubling to 10 s).
 *
 * Answers are paired with their request by transaction id (Modbus Messaging
 * on TCP/IP Implementation Guide v1.0b §4.2): an answer that comes after its
 * request timed out is recognised by its id and dropped (counted as
 * `lateAnswers`), and the connection carries on. A link whose byte stream
 * may be out of step is dropped and opened again rather than trusted
 * (counted as `resyncs`): bytes that are no frame (a protocol id other than
 * 0, a length no answer has), an answer that does not fit its request
 * (unit id, function code, byte count: GW_ERR_MODBUS_RESPONSE), an answer
 * with a transaction id that was never sent or already answered, and a
 * timeout that left bytes of an unfinished frame behind.
 *
 * What a request costs: the socket reads into one buffer per connection
 * (`onread`), frames are parsed where they lie (a frame split across reads is
 * gathered in one buffer of the largest frame's size), the 12-byte request is
 * written from one buffer per connection, and one timer per connection is
 * re-armed for each request. Nothing of a request is kept once it has
 * settled.
 */
import type net from 'node:net';
import { ModbusError } from './errors.ts';
import { ModbusLink, requestLabel, type ModbusReader, type ModbusReadRequest, type ModbusTcpConnectionOptions } from './modbus-client.ts';
import { encodeRequest, frameSize, MAX_FRAME_BYTES, parseAnswer, refusal, REQUEST_BYTES, SIZE_BYTES, transactionId } from './modbus-tcp-frame.ts';
import { connectTcp } from './tcp-connect.ts';

/** What the socket reads at once; several answers fit. */
const READ_BUFFER_BYTES = 4096;
/** Transaction ids of timed-out requests whose answers are still recognised when they come. */
const LATE_SLOTS = 16;

interface Waiting {
  req: ModbusReadRequest;
  into: number[] | undefined;
  resolve: (values: number[]) => void;
  reject: (err: ModbusError) => void;
}

/** One TCP connection: its socket, its transaction ids, an unfinished frame. */
class TcpLink {
  socket: net.Socket | null = null;
  lastError: Error | undefined;
  /** transaction id of the last request sent */
  tid = 0;
  /** bytes of a frame that came in pieces, gathered here */
  readonly partial = Buffer.alloc(MAX_FRAME_BYTES);
  partialBytes = 0;
  private readonly timedOut = new Int32Array(LATE_SLOTS).fill(-1);
  private nextSlot = 0;

  rememberTimedOut(tid: number): void {
    this.timedOut[this.nextSlot] = tid;
    this.nextSlot = (this.nextSlot + 1) % LATE_SLOTS;
  }

  /** true (once) when `tid` is a request of this link that timed out */
  forgetTimedOut(tid: number): boolean {
    const i = this.timedOut.indexOf(tid);
    if (i < 0) return false;
    this.timedOut[i] = -1;
    return true;
  }
}

export class ModbusTcpConnection extends ModbusLink implements ModbusReader {
  readonly host: string;
  readonly port: number;
  private readonly connectTimeoutMs: number;
  private link: TcpLink | null = null;
  private readonly queue: Waiting[] = [];
  /** the request being sent or connected for; `onWire` once its bytes went out on `link` */
  private current: Waiting | null = null;
  private onWire = false;
  /** while bytes that came are being parsed; and whether the request on the wire was sent meanwhile */
  private inRead = false;
  private sentInRead = false;
  private request = Buffer.alloc(REQUEST_BYTES);
  private readonly readBuffer = Buffer.alloc(READ_BUFFER_BYTES);
  private timer: NodeJS.Timeout | null = null;
  private timerMs = 0;
  private gapTimer: NodeJS.Timeout | null = null;
  private inGap = false;
  private idle: (() => void) | null = null;
  private closed: Promise<void> | null = null;

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

  protected get isConnected(): boolean {
    return this.link !== null;
  }

  /** Queues a read behind the ones already waiting; rejects with a ModbusError. */
  read(req: ModbusReadRequest, into?: number[]): Promise<number[]> {
    if (this.closing) return Promise.reject(this.closedError());
    const refused = refusal(req);
    if (refused !== null) {
      this.s.requests++;
      this.s.failed++;
      return Promise.reject(new ModbusError('GW_ERR_MODBUS_RESPONSE', `${requestLabel(req)}: ${refused}`, { retryable: false }));
    }
    return new Promise<number[]>((resolve, reject) => {
      this.queue.push({ req, into, resolve, reject });
      this.s.queued++;
      this.next();
    });
  }

  /** Lets the request on the wire finish, fails the queued ones, closes the link. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    for (const w of this.queue.splice(0)) {
      this.s.queued--;
      w.reject(this.closedError());
    }
    if (this.current) await new Promise<void>((r) => (this.idle = r));
    if (this.timer) clearTimeout(this.timer);
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.timer = this.gapTimer = null;
    this.inGap = false;
    this.dropLink('closed by the agent');
  }

  /** Starts the next queued request when none is under way. */
  private next(): void {
    while (this.current === null && !this.inGap && this.queue.length > 0) {
      const w = this.queue.shift()!;
      this.s.queued--;
      this.s.requests++;
      this.current = w;
      if (this.link) this.send(w);
      else void this.connect(w);
    }
  }

  private async connect(w: Waiting): Promise<void> {
    let link: TcpLink;
    try {
      this.checkBackoff();
      link = await this.open();
    } catch (err) {
      this.fail(w, err instanceof ModbusError ? err : this.connectFailed(err));
      return;
    }
    this.link = link;
    this.connected();
    this.send(w);
  }

  private async open(): Promise<TcpLink> {
    const link = new TcpLink();
    // no delay, keepalive: a gateway that vanishes without a FIN is found, not waited for forever
    const socket = await connectTcp(this.host, this.port, this.connectTimeoutMs, {
      buffer: this.readBuffer,
      callback: (n) => {
        this.received(link, n);
        return true;
      },
    });
    // listen before anything else can happen on the socket: an 'error' without a listener would throw
    socket.on('error', (err) => {
      link.lastError = err;
    });
    socket.once('close', () => this.linkClosed(link));
    link.socket = socket;
    return link;
  }

  private send(w: Waiting): void {
    const link = this.link!;
    const socket = link.socket!;
    if (!socket.writable) {
      this.dropLink('socket not writable');
      this.fail(w, new ModbusError('GW_ERR_MODBUS_SOCKET', `${requestLabel(w.req)}: connection not open`));
      return;
    }
    const tid = (link.tid + 1) & 0xffff;
    link.tid = tid;
    link.forgetTimedOut(tid);
    // the last request's bytes may still wait in the socket (a peer that stopped reading): not overwritten
    if (socket.writableLength > 0) this.request = Buffer.alloc(REQUEST_BYTES);
    encodeRequest(this.request, tid, w.req);
    this.onWire = true;
    this.sentInRead = this.inRead;
    this.arm(w.req.timeoutMs);
    socket.write(this.request);
  }

  /** One timer per connection, re-armed per request; a firing while no request is on the wire does nothing. */
  private arm(ms: number): void {
    if (this.timer !== null && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(this.timedOut, ms);
    // the socket keeps the process alive while a request is on the wire
    this.timer.unref();
    this.timerMs = ms;
  }

  private readonly timedOut = (): void => {
    const w = this.current;
    const link = this.link;
    if (w === null || !this.onWire || link === null) return;
    link.rememberTimedOut(link.tid);
    const err = new ModbusError('GW_ERR_MODBUS_TIMEOUT', `${requestLabel(w.req)}: no answer within ${w.req.timeoutMs} ms`);
    // bytes of a frame that never completed: its length may be a lie, and the next answer would be read as its rest
    if (link.partialBytes > 0) this.resync('GW_ERR_MODBUS_TIMEOUT with an unfinished frame', err);
    else this.fail(w, err);
  };

  /** `n` bytes arrived in the read buffer on `link` */
  private received(link: TcpLink, n: number): void {
    if (link !== this.link) return;
    // every request on the wire now was sent before these bytes were read
    this.sentInRead = false;
    this.inRead = true;
    try {
      this.parse(link, n);
    } finally {
      this.inRead = false;
    }
  }

  private parse(link: TcpLink, n: number): void {
    const buf = this.readBuffer;
    let off = 0;
    if (link.partialBytes > 0) {
      off = this.gather(link, buf, n);
      if (off < 0) return;
    }
    while (n - off >= SIZE_BYTES) {
      const size = frameSize(buf, off);
      if (size < 0) return this.resync('bytes that are no Modbus TCP frame');
      if (n - off < size) break;
      this.frame(link, buf, off, size);
      if (link !== this.link) return;
      off += size;
    }
    if (off < n) {
      buf.copy(link.partial, 0, off, n);
      link.partialBytes = n - off;
    }
  }

  /** Adds the first bytes of `buf` to the unfinished frame; how many it took, or -1 when the frame is still unfinished or the link is gone. */
  private gather(link: TcpLink, buf: Buffer, n: number): number {
    const p = link.partial;
    let have = link.partialBytes;
    let off = 0;
    if (have < SIZE_BYTES) {
      off = Math.min(SIZE_BYTES - have, n);
      buf.copy(p, have, 0, off);
      have += off;
      link.partialBytes = have;
      if (have < SIZE_BYTES) return -1;
    }
    const size = frameSize(p, 0);
    if (size < 0) {
      this.resync('bytes that are no Modbus TCP frame');
      return -1;
    }
    const take = Math.min(size - have, n - off);
    buf.copy(p, have, off, off + take);
    have += take;
    off += take;
    link.partialBytes = have;
    if (have < size) return -1;
    link.partialBytes = 0;
    this.frame(link, p, 0, size);
    return link === this.link ? off : -1;
  }

  /** A whole frame of `size` bytes at `off`. */
  private frame(link: TcpLink, buf: Buffer, off: number, size: number): void {
    const tid = transactionId(buf, off);
    const w = this.onWire ? this.current : null;
    if (w === null || tid !== link.tid || this.sentInRead) {
      if (link.forgetTimedOut(tid)) {
        this.s.lateAnswers++;
        return;
      }
      // bytes read before the request on the wire was sent cannot answer it (and must not overwrite
      // the values of the answer just handed over, which its caller has not read yet)
      if (w !== null && tid === link.tid) return this.resync(`an answer with transaction id ${tid} before its request was sent`);
      this.resync(`an answer with transaction id ${tid}, ${w ? `${link.tid} expected` : 'none outstanding'}`);
      return;
    }
    const got = parseAnswer(buf, off, size, w.req, w.into);
    if (!(got instanceof ModbusError)) this.settle(w, got);
    else if (got.code === 'GW_ERR_MODBUS_EXCEPTION') this.fail(w, got);
    else this.resync(got.code, got);
  }

  /** Drops the link whose stream may be out of step; the request on the wire fails with `err` (or an unusable answer). */
  private resync(reason: string, err?: ModbusError): void {
    const w = this.onWire ? this.current : null;
    this.s.resyncs++;
    this.dropLink(`resynchronising after ${reason}`);
    if (w) this.fail(w, err ?? new ModbusError('GW_ERR_MODBUS_RESPONSE', `${requestLabel(w.req)}: ${reason}`));
  }

  private linkClosed(link: TcpLink): void {
    if (link !== this.link) return;
    this.link = null;
    const e = link.lastError;
    this.setLink('down', e ? e.message : 'closed by the peer');
    const w = this.onWire ? this.current : null;
    if (w) this.fail(w, new ModbusError('GW_ERR_MODBUS_SOCKET', `connection to ${this.where} closed${e ? `: ${e.message}` : ''}`, { cause: e }));
  }

  private dropLink(reason: string): void {
    const link = this.link;
    this.link = null;
    link?.socket?.destroy();
    this.setLink('down', reason);
  }

  private settle(w: Waiting, values: number[]): void {
    this.done();
    w.resolve(values);
    this.after();
  }

  private fail(w: Waiting, err: ModbusError): void {
    this.s.failed++;
    this.done();
    w.reject(err);
    this.after();
  }

  private done(): void {
    this.current = null;
    this.onWire = false;
  }

  /** The exchange is over: the gap, then the next request; or tells close() that nothing is under way. */
  private after(): void {
    if (this.closing) {
      const idle = this.idle;
      this.idle = null;
      idle?.();
      return;
    }
    if (this.frameGapMs > 0) {
      this.inGap = true;
      if (this.gapTimer !== null) this.gapTimer.refresh();
      else this.gapTimer = setTimeout(this.gapEnded, this.frameGapMs);
      return;
    }
    this.next();
  }

  private readonly gapEnded = (): void => {
    this.inGap = false;
    this.next();
  };
}
