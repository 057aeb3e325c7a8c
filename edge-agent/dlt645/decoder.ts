/**
 * Streaming DL/T 645 frame decoder: bytes in as they arrive (a frame may come
 * in pieces, several frames in one chunk), whole frames out, and for every
 * stretch of bytes that is not a frame a reject with its reason. It never
 * throws on input, holds at most one frame's worth of bytes (a stretch longer
 * than the longest frame is given up), and leaves nothing waiting forever: the
 * owner calls `end()` when its timeout passes and an unfinished frame is
 * rejected as truncated.
 *
 * Resynchronisation: FE wake-up bytes are skipped silently; anything else
 * before a 68 is garbage. A 68 not followed by a second 68 seven bytes on, or
 * with L over 200, or without its 16 where L says it ends, was not a frame
 * start: one byte is dropped and the search goes on (a 68 inside garbage or
 * inside a broken frame). A frame whose structure holds but whose checksum
 * does not is dropped whole.
 */
import {
  addressString,
  checksum,
  DATA_OFFSET,
  FRAME_END,
  FRAME_OVERHEAD,
  FRAME_START,
  MAX_DATA_LENGTH,
  PREAMBLE_BYTE,
  type Dlt645Frame,
} from './frame.ts';

export const REJECT_REASONS = ['garbage', 'bad_header', 'bad_length', 'bad_checksum', 'bad_end', 'truncated'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export type DecodeEvent =
  | { kind: 'frame'; frame: Dlt645Frame }
  | {
      kind: 'reject';
      reason: RejectReason;
      /** bytes given up */
      bytes: number;
      detail: string;
    };

/** the longest frame: header, 200 data bytes, CS, 16 */
export const MAX_FRAME_BYTES = FRAME_OVERHEAD + MAX_DATA_LENGTH;

export interface DecoderStats {
  frames: number;
  rejects: Record<RejectReason, number>;
  /** bytes given up, all reasons */
  droppedBytes: number;
  /** FE wake-up bytes skipped before frames */
  preambleBytes: number;
}

export class Dlt645Decoder {
  /** the start of a frame not yet complete: between pushes never more than MAX_FRAME_BYTES − 1 */
  private buf: Buffer = Buffer.alloc(0);
  /** garbage bytes seen since the last frame start, reported as one reject when the next 68 (or end()) comes */
  private garbage = 0;
  private readonly s: DecoderStats = { frames: 0, rejects: { garbage: 0, bad_header: 0, bad_length: 0, bad_checksum: 0, bad_end: 0, truncated: 0 }, droppedBytes: 0, preambleBytes: 0 };

  stats(): DecoderStats {
    return { ...this.s, rejects: { ...this.s.rejects } };
  }

  /** bytes held, waiting for the rest of a frame (never more than MAX_FRAME_BYTES) */
  get pending(): number {
    return this.buf.length;
  }

  /** Feeds bytes in; returns the frames completed and the stretches rejected, in stream order. */
  push(chunk: Uint8Array): DecodeEvent[] {
    const out: DecodeEvent[] = [];
    if (chunk.length === 0) return out;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    this.scan(out);
    // what is held is a view into the last chunk: copy it out so a large chunk is not kept alive by a few bytes
    if (this.buf.length > 0 && this.buf.buffer.byteLength > Buffer.poolSize) this.buf = Buffer.from(this.buf);
    return out;
  }

  /** The stream paused (a timeout, the link closed): what is held can never become a frame. */
  end(): DecodeEvent[] {
    const out: DecodeEvent[] = [];
    this.flushGarbage(out);
    if (this.buf.length > 0) {
      const have = this.buf.length;
      const want = have >= 10 ? FRAME_OVERHEAD + this.buf[9]! : undefined;
      this.reject(out, 'truncated', have, want === undefined ? `a frame cut short after ${have} bytes` : `a frame cut short: ${have} of ${want} bytes`);
      this.buf = Buffer.alloc(0);
    }
    return out;
  }

  private reject(out: DecodeEvent[], reason: RejectReason, bytes: number, detail: string): void {
    this.s.rejects[reason]++;
    this.s.droppedBytes += bytes;
    out.push({ kind: 'reject', reason, bytes, detail });
  }

  private flushGarbage(out: DecodeEvent[]): void {
    if (this.garbage === 0) return;
    const n = this.garbage;
    this.garbage = 0;
    this.reject(out, 'garbage', n, `${n} byte${n === 1 ? '' : 's'} before a frame start (68)`);
  }

  private scan(out: DecodeEvent[]): void {
    for (;;) {
      // find a frame start, skipping wake-up bytes without complaint
      let i = 0;
      while (i < this.buf.length && this.buf[i] !== FRAME_START) {
        if (this.buf[i] !== PREAMBLE_BYTE) this.garbage++;
        else this.s.preambleBytes++;
        i++;
      }
      this.buf = this.buf.subarray(i);
      const b = this.buf;
      if (b.length === 0) return;
      if (b.length < 10) return; // 68, address, 68, C, L: not yet
      if (b[7] !== FRAME_START) {
        this.flushGarbage(out);
        this.reject(out, 'bad_header', 1, `a 68 without the second 68 seven bytes on (0x${b[7]!.toString(16).padStart(2, '0')} there)`);
        this.buf = b.subarray(1);
        continue;
      }
      const len = b[9]!;
      if (len > MAX_DATA_LENGTH) {
        this.flushGarbage(out);
        this.reject(out, 'bad_length', 1, `L = ${len}, more than the ${MAX_DATA_LENGTH} data bytes a frame may carry`);
        this.buf = b.subarray(1);
        continue;
      }
      const total = FRAME_OVERHEAD + len;
      if (b.length < total) return; // the rest of the frame has not come yet
      if (b[total - 1] !== FRAME_END) {
        this.flushGarbage(out);
        this.reject(out, 'bad_end', 1, `no 16 where L = ${len} says the frame ends (0x${b[total - 1]!.toString(16).padStart(2, '0')} there)`);
        this.buf = b.subarray(1);
        continue;
      }
      const cs = checksum(b, 0, total - 2);
      if (cs !== b[total - 2]) {
        this.flushGarbage(out);
        this.reject(out, 'bad_checksum', total, `checksum 0x${b[total - 2]!.toString(16).padStart(2, '0')}, the bytes sum to 0x${cs.toString(16).padStart(2, '0')}`);
        this.buf = b.subarray(total);
        continue;
      }
      this.flushGarbage(out);
      const data = new Uint8Array(len);
      for (let k = 0; k < len; k++) data[k] = (b[10 + k]! - DATA_OFFSET) & 0xff;
      this.s.frames++;
      out.push({ kind: 'frame', frame: { address: addressString(b, 1), control: b[8]!, data } });
      this.buf = b.subarray(total);
    }
  }
}
