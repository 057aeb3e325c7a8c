/**
 * One DL/T 645 bus (a serial line, or a transparent TCP gateway in front of
 * one): requests go strictly one at a time, as on the half-duplex RS-485 line
 * itself, each waiting at most its own timeout, so a dead meter costs the
 * meters behind it in the queue one timeout and no more; its poller backs off
 * (poller.ts). Bytes heard before a request are discarded (the master of a
 * half-duplex bus ignores what it hears before it asks); a reply is accepted
 * only from the meter asked, for the function and identifier asked.
 *
 * A reply with the follow-up bit (B1H) is continued with 12H requests (frame
 * numbers 1, 2, …) until a reply without it; the value bytes are joined.
 */
import type { Logger } from '../log.ts';
import { Dlt645Decoder, type DecodeEvent, type RejectReason } from './decoder.ts';
import { Dlt645Error } from './errors.ts';
import {
  controlBits,
  decodeErrorByte,
  encodeFrame,
  FUNCTION,
  identifierBytes,
  identifierString,
  readAddressRequest,
  readNextRequest,
  readRequest,
  WILDCARD_ADDRESS,
  type Dlt645Frame,
} from './frame.ts';
import type { ByteLink, LinkFactory } from './link.ts';

/** the most continuation frames one read follows before giving up (a meter that never stops saying "more") */
export const MAX_FOLLOW_UPS = 32;

export interface Dlt645BusOptions {
  link: LinkFactory;
  log: Logger;
  /** FE wake-up bytes before each request, 0..4; default 4 (§4.1) */
  preamble?: number;
  /** silence between the end of one exchange and the next request, ms; default 0 */
  frameGapMs?: number;
  /** reconnect backoff after a failed open, ms; default 500 doubling to 10 000 */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export interface Dlt645BusStats {
  requests: number;
  failed: number;
  timeouts: number;
  /** abnormal replies (D1H/D2H) */
  meterErrors: number;
  connects: number;
  connectFailures: number;
  /** requests waiting behind the one on the wire */
  queued: number;
  connected: boolean;
  frames: number;
  /** well-formed frames nobody was waiting for (a late reply, another master) */
  stray: number;
  /** stretches of bytes that were no frame, by reason */
  rejects: Record<RejectReason, number>;
}

interface Waiting {
  match: (f: Dlt645Frame) => boolean;
  resolve: (f: Dlt645Frame) => void;
  reject: (e: Dlt645Error) => void;
  /** reasons of the rejects seen during this exchange */
  rejects: string[];
}

function addressMatches(asked: string, got: string): boolean {
  for (let i = 0; i < 12; i += 2) {
    const a = asked.slice(i, i + 2).toUpperCase();
    if (a !== 'AA' && a !== got.slice(i, i + 2)) return false;
  }
  return true;
}

export class Dlt645Bus {
  private readonly o: Required<Omit<Dlt645BusOptions, 'log' | 'link'>>;
  private readonly log: Logger;
  private readonly decoder = new Dlt645Decoder();
  private link: ByteLink | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private waiting: Waiting | null = null;
  private closing = false;
  private backoffMs = 0;
  private nextAttemptAt = 0;
  private readonly s = { requests: 0, failed: 0, timeouts: 0, meterErrors: 0, connects: 0, connectFailures: 0, queued: 0, stray: 0 };

  /** Does no I/O: the link opens on the first request. */
  constructor(readonly opts: Dlt645BusOptions) {
    this.log = opts.log.child({ bus: opts.link.where });
    this.o = { preamble: opts.preamble ?? 4, frameGapMs: opts.frameGapMs ?? 0, reconnectMinMs: opts.reconnectMinMs ?? 500, reconnectMaxMs: opts.reconnectMaxMs ?? 10_000 };
  }

  get where(): string {
    return this.opts.link.where;
  }

  stats(): Dlt645BusStats {
    const d = this.decoder.stats();
    return { ...this.s, connected: this.link !== null, frames: d.frames, rejects: d.rejects };
  }

  /** Reads one identifier; resolves with the value bytes after the identifier (continuations joined). */
  read(address: string, di: string, timeoutMs: number): Promise<Uint8Array> {
    return this.queue(async () => {
      const want = identifierString(identifierBytes(di));
      const isReply = (fn: number) => (f: Dlt645Frame) => {
        const c = controlBits(f.control);
        if (!c.reply || c.fn !== fn || !addressMatches(address, f.address)) return false;
        // an abnormal reply carries only its error byte; a normal one starts with the identifier asked
        return c.abnormal || (f.data.length >= 4 && identifierString(f.data) === want);
      };
      let f = await this.exchange(readRequest(address, want), isReply(FUNCTION.READ), timeoutMs, `read ${want} from ${address}`);
      this.checkAbnormal(f, address, want);
      const parts = [f.data.subarray(4)];
      for (let seq = 1; controlBits(f.control).followUp; seq++) {
        if (seq > MAX_FOLLOW_UPS) throw new Dlt645Error('GW_ERR_DLT645_RESPONSE', `meter ${address} ${want}: still more frames after ${MAX_FOLLOW_UPS} continuations`);
        await this.gap();
        f = await this.exchange(readNextRequest(address, want, seq), isReply(FUNCTION.READ_NEXT), timeoutMs, `read ${want} frame ${seq} from ${address}`);
        this.checkAbnormal(f, address, want);
        // a continuation ends with its frame number (SEQ)
        if (f.data.length < 5 || f.data[f.data.length - 1] !== (seq & 0xff))
          throw new Dlt645Error('GW_ERR_DLT645_RESPONSE', `meter ${address} ${want}: continuation ${seq} came without its frame number`);
        parts.push(f.data.subarray(4, f.data.length - 1));
      }
      return parts.length === 1 ? parts[0]! : Uint8Array.from(parts.flatMap((p) => [...p]));
    });
  }

  /** 13H to AA×6: the address of the one meter on the bus (more than one answering at once garbles the line). */
  readAddress(timeoutMs: number): Promise<string> {
    return this.queue(async () => {
      const f = await this.exchange(
        readAddressRequest(),
        (x) => controlBits(x.control).reply && controlBits(x.control).fn === FUNCTION.READ_ADDRESS,
        timeoutMs,
        'read address',
      );
      this.checkAbnormal(f, WILDCARD_ADDRESS, 'address');
      if (f.data.length !== 6) throw new Dlt645Error('GW_ERR_DLT645_RESPONSE', `address reply with ${f.data.length} data bytes, expected 6`);
      // the data field is the address again, A0 first
      let a = '';
      for (let i = 5; i >= 0; i--) a += f.data[i]!.toString(16).toUpperCase().padStart(2, '0');
      return a;
    });
  }

  /** Sends a frame nobody answers (broadcast time sync), in turn with the requests; gives up on a write not done in `timeoutMs`. */
  broadcast(frame: Dlt645Frame, timeoutMs = 1000): Promise<void> {
    return this.queue(async () => {
      const link = await this.ensureLink();
      this.s.requests++;
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Dlt645Error('GW_ERR_DLT645_TIMEOUT', `broadcast on ${this.where}: not sent within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([link.write(encodeFrame(frame, this.o.preamble)), stuck]);
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /** Lets the request on the wire finish, fails the queued ones, closes the link. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    await this.tail;
    this.dropLink('closed by the agent');
  }

  private queue<T>(job: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new Dlt645Error('GW_ERR_DLT645_CLOSED', `bus ${this.where} is closed`));
    this.s.queued++;
    const run = this.tail.then(async () => {
      this.s.queued--;
      if (this.closing) throw new Dlt645Error('GW_ERR_DLT645_CLOSED', `bus ${this.where} is closed`);
      try {
        return await job();
      } catch (err) {
        this.s.failed++;
        throw err;
      }
    });
    this.tail = run.catch(() => undefined).then(() => this.gap());
    return run;
  }

  private gap(): Promise<void> {
    const ms = this.o.frameGapMs;
    return ms > 0 && !this.closing ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
  }

  private checkAbnormal(f: Dlt645Frame, address: string, what: string): void {
    if (!controlBits(f.control).abnormal) return;
    this.s.meterErrors++;
    const err = f.data[0] ?? 0;
    const d = decodeErrorByte(err);
    // "no such data" and "not authorised" are the profile's or the meter's setup; trying again will not help
    const retryable = !d.names.includes('no_data') && !d.names.includes('unauthorized');
    throw new Dlt645Error('GW_ERR_DLT645_METER', `meter ${f.address} refused ${what}: ${d.text}`, { meterErrors: d.names, retryable });
  }

  private async exchange(req: Dlt645Frame, match: (f: Dlt645Frame) => boolean, timeoutMs: number, what: string): Promise<Dlt645Frame> {
    const link = await this.ensureLink();
    this.s.requests++;
    // what came before the question is not an answer to it
    this.decoder.end();
    return new Promise<Dlt645Frame>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.waiting = null;
      };
      const w: Waiting = {
        match,
        rejects: [],
        resolve: (f) => {
          done();
          resolve(f);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      this.waiting = w;
      // the timeout runs from the write, not from its completion: a port whose write never completes
      // (an adapter stuck in flow control) must not hold the bus for longer than one timeout either
      timer = setTimeout(() => {
        for (const ev of this.decoder.end()) if (ev.kind === 'reject') w.rejects.push(`${ev.reason}: ${ev.detail}`);
        if (w.rejects.length) w.reject(new Dlt645Error('GW_ERR_DLT645_FRAME', `${what}: no good reply within ${timeoutMs} ms; ${w.rejects.join('; ')}`));
        else {
          this.s.timeouts++;
          w.reject(new Dlt645Error('GW_ERR_DLT645_TIMEOUT', `${what}: no reply within ${timeoutMs} ms`));
        }
      }, timeoutMs);
      link.write(encodeFrame(req, this.o.preamble)).catch((err: Error) => {
        if (this.waiting === w) w.reject(new Dlt645Error('GW_ERR_DLT645_SOCKET', `${what}: cannot send on ${this.where}: ${err.message}`, { cause: err }));
      });
    });
  }

  private onData(bytes: Buffer): void {
    for (const ev of this.decoder.push(bytes)) this.onEvent(ev);
  }

  private onEvent(ev: DecodeEvent): void {
    const w = this.waiting;
    if (ev.kind === 'frame') {
      if (w && w.match(ev.frame)) w.resolve(ev.frame);
      else this.s.stray++;
      return;
    }
    if (!w) return;
    w.rejects.push(`${ev.reason}: ${ev.detail}`);
    // noise before a reply is tolerated (converters emit some when they turn the line around); a broken frame is the reply broken
    if (ev.reason !== 'garbage') w.reject(new Dlt645Error('GW_ERR_DLT645_FRAME', `broken reply on ${this.where}: ${ev.reason}: ${ev.detail}`));
  }

  private async ensureLink(): Promise<ByteLink> {
    if (this.link) return this.link;
    const now = performance.now();
    if (now < this.nextAttemptAt)
      throw new Dlt645Error('GW_ERR_DLT645_CONNECT', `not connected to ${this.where}; next attempt in ${Math.ceil(this.nextAttemptAt - now)} ms`);
    let link: ByteLink;
    try {
      link = await this.opts.link.open({
        onData: (b) => {
          if (this.link === link) this.onData(b);
        },
        onClose: (reason) => {
          if (this.link !== link) return;
          this.dropLink(reason);
          this.waiting?.reject(new Dlt645Error('GW_ERR_DLT645_SOCKET', `${this.where} closed: ${reason}`));
        },
      });
    } catch (err) {
      this.s.connectFailures++;
      this.backoffMs = Math.min(this.o.reconnectMaxMs, Math.max(this.o.reconnectMinMs, this.backoffMs * 2));
      this.nextAttemptAt = performance.now() + this.backoffMs;
      this.log.warn({ err, retryInMs: this.backoffMs }, 'cannot open the DL/T 645 bus');
      throw new Dlt645Error('GW_ERR_DLT645_CONNECT', `cannot open ${this.where}: ${(err as Error).message}`, { cause: err });
    }
    this.link = link;
    this.backoffMs = 0;
    this.nextAttemptAt = 0;
    this.s.connects++;
    this.log.info({ from: 'down', to: 'up', reason: 'connected' }, 'dlt645 bus state changed');
    return link;
  }

  private dropLink(reason: string): void {
    const link = this.link;
    if (!link) return;
    this.link = null;
    link.close();
    this.decoder.end();
    if (!this.closing) this.log.warn({ from: 'up', to: 'down', reason }, 'dlt645 bus state changed');
  }
}
