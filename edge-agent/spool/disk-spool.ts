/**
 * The disk spool: readings as JSON lines in segment files named by the seq of
 * their first reading (`0001767225600000.seg`), appended in seq order. The
 * newest segment is written; older ones are only read (to resend) and
 * deleted whole once every reading in them is acknowledged, or — when the
 * quota is exceeded — before that, which is the only way a reading is lost,
 * and is counted.
 *
 * Recovery at open: a line cut short by a crash is cut off, the next seq is
 * one past the last complete line (or what `state.json` says, if higher), and
 * the last acknowledged seq comes from `state.json`. A stale `state.json`
 * (the process died before writing it) only means readings are sent again,
 * which the server overwrites (same measurement, tags and timestamp).
 *
 * One process per directory: a `lock` file holds the owner's pid; a lock whose
 * process is gone (SIGKILL) is taken over.
 *
 * Synchronous file I/O on purpose: appends are small and go to the page
 * cache; the write must have happened before the reading is sent, and the
 * order of lines is the order of seqs.
 *
 * One file: appending, reading back, acknowledging, the quota and recovery all
 * work on the same segment list and must agree on it line by line.
 */
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.ts';
import type { Reading } from '../../contract/index.ts';
import { EdgeAgentError } from '../errors.ts';
import { LossLedger, noReadings, spoolStats, windowSlice } from './common.ts';
import type { EncodedReadings, FsyncPolicy, Spool, SpoolLoss, SpoolStats, UnsequencedReading } from './types.ts';

export interface DiskSpoolOptions {
  dir: string;
  fsync: FsyncPolicy;
  /** for `interval`: longest time written bytes stay unsynced, ms */
  fsyncIntervalMs: number;
  /** quota for all segments together, bytes */
  maxBytes: number;
  /** a segment is closed and a new one begun at this size, bytes; the quota drops whole segments */
  segmentBytes: number;
  /** seq of the first reading when the directory has never held a spool; default 0 */
  initialSeq?: number;
  log: Logger;
  /** newest readings kept in memory for the sender, as their JSON lines; default 4096 */
  memReadings?: number;
  /**
   * and at most this many bytes of them (as written to disk), not counting those not yet written;
   * readings the sender has read are let go at once. Default 1 MiB.
   */
  memoryBytes?: number;
}

interface Segment {
  file: string;
  first: number;
  /** one past the last seq in the segment */
  next: number;
  /** bytes of the lines in it (written or pending) */
  bytes: number;
  firstTs?: number;
  lastTs?: number;
}

interface SpoolState {
  acked: number;
  nextSeq: number;
  lost: number;
}

const SEG_SUFFIX = '.seg';
/** longest time an appended reading waits in memory before it is written, ms (see append) */
const WRITE_BATCH_MS = 20;
const SEQ_DIGITS = 16; // Number.MAX_SAFE_INTEGER has 16 digits

function segName(first: number): string {
  return `${String(first).padStart(SEQ_DIGITS, '0')}${SEG_SUFFIX}`;
}

function isReadingLine(x: unknown): x is Reading {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  return typeof r.seq === 'number' && typeof r.device === 'string' && typeof r.ts === 'number' && typeof r.q === 'string' && typeof r.v === 'object';
}

function parseLine(line: string): Reading | null {
  try {
    const x: unknown = JSON.parse(line);
    return isReadingLine(x) ? x : null;
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class DiskSpool implements Spool {
  private readonly o: Required<Omit<DiskSpoolOptions, 'log'>>;
  private readonly log: Logger;
  private segments: Segment[] = [];
  private fd: number | null = null;
  /** bytes of the active segment actually on disk */
  private fileSize = 0;
  /** lines appended and not written yet (no newline) */
  private pending: string[] = [];
  private pendingBytes = 0;
  private dirty = false;
  private next = 0;
  private ackedSeq = -1;
  private totalBytes = 0;
  /**
   * newest readings, contiguous up to next - 1, as their JSON lines (no newline): the
   * line of seq memBase + i - memHead is mem[i]. Lines, not decoded readings: a string
   * holds a reading in a third of the heap its objects take, and the uplink sends it as it is
   */
  private mem: string[] = [];
  private memHead = 0;
  /** each line's reading ts and its bytes as written (newline included), same indexes; memBytes sums the lengths from memHead on */
  private memTs: number[] = [];
  private memLens: number[] = [];
  private memBytes = 0;
  /** the lines of the segment read last (a sender behind the memory window reads it in batches) */
  private cache: { file: string; size: number; lines: EncodedReadings } | null = null;
  private losses = new LossLedger();
  private flushTimer: NodeJS.Timeout | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private stateTimer: NodeJS.Timeout | null = null;
  private opened = false;
  private closed = false;
  private ioFailing = false;
  private readonly s = { appended: 0, corrupt: 0, ioErrors: 0, fsyncs: 0 };

  /** Does no I/O until open(). */
  constructor(opts: DiskSpoolOptions) {
    this.log = opts.log;
    this.o = { initialSeq: 0, memReadings: 4096, memoryBytes: 1024 ** 2, ...opts };
    delete (this.o as Partial<DiskSpoolOptions>).log;
    if (opts.segmentBytes * 2 > opts.maxBytes)
      throw new RangeError(`spool segmentBytes (${opts.segmentBytes}) must be at most half of maxBytes (${opts.maxBytes}): the quota drops whole segments`);
  }

  private get lockFile(): string {
    return path.join(this.o.dir, 'lock');
  }
  private get stateFile(): string {
    return path.join(this.o.dir, 'state.json');
  }

  get firstSeq(): number {
    const oldest = this.segments[0]?.first ?? this.next;
    return Math.min(this.next, Math.max(oldest, this.ackedSeq + 1));
  }
  get nextSeq(): number {
    return this.next;
  }
  get acked(): number {
    return this.ackedSeq;
  }

  open(): void {
    if (this.opened) throw new EdgeAgentError('GW_ERR_AGENT_STATE', 'spool opened twice');
    this.opened = true;
    mkdirSync(this.o.dir, { recursive: true });
    this.takeLock();
    const state = this.readState();
    this.losses = new LossLedger(state?.lost ?? 0);

    const files = readdirSync(this.o.dir)
      .filter((f) => f.endsWith(SEG_SUFFIX) && /^\d+\.seg$/.test(f))
      .sort();
    for (let i = 0; i < files.length; i++) {
      const seg = this.scan(files[i]!, i === files.length - 1);
      if (seg) this.segments.push(seg);
    }
    const last = this.segments.at(-1);
    this.next = Math.max(last?.next ?? 0, state?.nextSeq ?? 0);
    if (!last && !state) this.next = this.o.initialSeq;
    this.ackedSeq = Math.min(state?.acked ?? (this.segments[0]?.first ?? this.next) - 1, this.next - 1);
    this.totalBytes = this.segments.reduce((n, s) => n + s.bytes, 0);
    this.deleteAcked();
    // keep appending to the newest segment unless it is full, or its name no longer matches the next seq (state.json ran ahead)
    if (last && this.segments.at(-1) === last && last.bytes < this.o.segmentBytes && last.next === this.next) {
      this.fd = openSync(path.join(this.o.dir, last.file), 'a');
      this.fileSize = last.bytes;
    } else {
      this.startSegment();
    }
    if (this.o.fsync === 'interval') {
      this.syncTimer = setInterval(() => this.sync(), this.o.fsyncIntervalMs);
      this.syncTimer.unref();
    }
    this.writeState();
    this.log.info(
      { dir: this.o.dir, nextSeq: this.next, acked: this.ackedSeq, unacked: this.next - this.firstSeq, segments: this.segments.length, bytes: this.totalBytes, lost: this.losses.total },
      'spool opened',
    );
  }

  private takeLock(): void {
    try {
      writeFileSync(this.lockFile, String(process.pid), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(readFileSync(this.lockFile, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner))
      throw new EdgeAgentError('GW_ERR_SPOOL_LOCKED', `spool ${this.o.dir} is in use by process ${owner} (delete ${this.lockFile} if that is not an edge agent)`);
    writeFileSync(this.lockFile, String(process.pid));
  }

  private readState(): SpoolState | null {
    let raw: string;
    try {
      raw = readFileSync(this.stateFile, 'utf8');
    } catch {
      return null;
    }
    try {
      const x = JSON.parse(raw) as Partial<SpoolState>;
      if (Number.isSafeInteger(x.acked) && Number.isSafeInteger(x.nextSeq) && Number.isSafeInteger(x.lost))
        return { acked: x.acked!, nextSeq: x.nextSeq!, lost: x.lost! };
    } catch {
      // fall through
    }
    this.log.warn({ file: this.stateFile }, 'spool state unreadable; recovering from the segments (readings may be sent again)');
    return null;
  }

  /**
   * Reads a segment's bounds. A torn last line is cut off (truncating the
   * file when it is the newest segment), and so are complete lines that do not
   * decode at the very end (zeros after a power loss).
   */
  private scan(file: string, newest: boolean): Segment | null {
    const full = path.join(this.o.dir, file);
    const first = Number(file.slice(0, -SEG_SUFFIX.length));
    let buf: Buffer;
    try {
      buf = readFileSync(full);
    } catch (err) {
      this.log.error({ err, file: full }, 'spool segment unreadable; skipped');
      return null;
    }
    let end = buf.length;
    // a torn tail (no newline at the end) is cut back to just after the last newline
    if (end > 0 && buf[end - 1] !== 0x0a) end = buf.lastIndexOf(0x0a, end - 1) + 1;
    // complete lines at the end that do not decode (zeros after a power loss) go too
    let lastReading: Reading | null = null;
    while (end > 0) {
      const lineEnd = end - 1; // the newline
      // Buffer.lastIndexOf counts a negative offset from the end: guard the first line
      const lineStart = lineEnd === 0 ? 0 : buf.lastIndexOf(0x0a, lineEnd - 1) + 1;
      const r = parseLine(buf.toString('utf8', lineStart, lineEnd));
      if (r) {
        lastReading = r;
        break;
      }
      end = lineStart;
    }
    if (end < buf.length) {
      this.s.corrupt++;
      this.log.warn({ file: full, cutBytes: buf.length - end }, 'spool segment ends in a torn or undecodable line; cut off');
      if (newest) {
        try {
          const fd = openSync(full, 'r+');
          ftruncateSync(fd, end);
          closeSync(fd);
        } catch (err) {
          this.log.error({ err, file: full }, 'cannot truncate a torn spool segment');
        }
      }
    }
    const firstNl = buf.indexOf(0x0a);
    const firstReading = firstNl > 0 && firstNl < end ? parseLine(buf.toString('utf8', 0, firstNl)) : null;
    const next = lastReading ? lastReading.seq + 1 : first;
    const seg: Segment = { file, first: firstReading?.seq ?? first, next: Math.max(next, first), bytes: end };
    if (firstReading) seg.firstTs = firstReading.ts;
    if (lastReading) seg.lastTs = lastReading.ts;
    return seg;
  }

  private startSegment(): void {
    const file = segName(this.next);
    const full = path.join(this.o.dir, file);
    // a leftover file of that name (an empty segment from before) is reused; anything in it is past what we hold
    this.fd = openSync(full, 'w');
    this.fileSize = 0;
    const prev = this.segments.at(-1);
    if (prev && prev.file === file) this.segments.pop();
    this.segments.push({ file, first: this.next, next: this.next, bytes: 0 });
    if (this.o.fsync === 'always') this.syncDir();
  }

  private syncDir(): void {
    try {
      const dfd = openSync(this.o.dir, 'r');
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch {
      // not every file system can sync a directory; the segment's own fsync still holds
    }
  }

  append(u: UnsequencedReading): Reading {
    if (!this.opened || this.closed) throw new EdgeAgentError('GW_ERR_AGENT_STATE', 'spool is not open');
    const r: Reading = { device: u.device, ts: u.ts, seq: this.next++, v: u.v, q: u.q };
    if (u.late) r.late = true;
    const line = JSON.stringify(r);
    const bytes = Buffer.byteLength(line) + 1;
    this.pending.push(line);
    this.pendingBytes += bytes;
    const seg = this.segments.at(-1)!;
    seg.next = this.next;
    seg.bytes += bytes;
    seg.firstTs ??= r.ts;
    seg.lastTs = r.ts;
    this.totalBytes += bytes;
    this.mem.push(line);
    this.memTs.push(r.ts);
    this.memLens.push(bytes);
    this.memBytes += bytes;
    // readings not yet written stay in memory whatever the limit
    const unwritten = this.mem.length - this.pending.length;
    let head = this.memHead;
    let held = this.memBytes;
    while (head < unwritten && (this.mem.length - head > this.o.memReadings || held > this.o.memoryBytes)) held -= this.memLens[head++]!;
    this.dropMem(head);
    this.s.appended++;
    if (seg.bytes >= this.o.segmentBytes) this.roll();
    else if (this.pending.length * 2 > this.o.memReadings || this.pendingBytes * 2 > this.o.memoryBytes) this.flush();
    // written in batches, at most WRITE_BATCH_MS after the append: one write(2) per reading cost a
    // quarter of the agent's CPU at 6,000 readings/s. The uplink flushes the spool before it reads
    // from it, so a reading is still on disk before it is sent; a crash inside the window loses only
    // readings nobody has seen, as if the agent had died that much earlier.
    else if (!this.flushTimer) this.flushTimer = setTimeout(() => this.flush(), WRITE_BATCH_MS);
    if (this.totalBytes > this.o.maxBytes) this.enforceQuota();
    return r;
  }

  /** Lets go of the window's readings before index `head` now, not when the array is next compacted. */
  private dropMem(head: number): void {
    if (head <= this.memHead) return;
    for (let i = this.memHead; i < head; i++) this.memBytes -= this.memLens[i]!;
    this.mem.fill('', this.memHead, head);
    this.memHead = head;
    if (this.memHead > 4096 && this.memHead * 2 > this.mem.length) {
      this.mem = this.mem.slice(this.memHead);
      this.memTs = this.memTs.slice(this.memHead);
      this.memLens = this.memLens.slice(this.memHead);
      this.memHead = 0;
    }
  }

  private roll(): void {
    this.flush();
    if (this.pending.length > 0) return; // cannot write now: keep filling this segment, retried on the next append
    if (this.o.fsync !== 'none') this.sync();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.startSegment();
  }

  private enforceQuota(): void {
    while (this.totalBytes > this.o.maxBytes && this.segments.length > 1) {
      const seg = this.segments.shift()!;
      this.totalBytes -= seg.bytes;
      this.unlink(seg);
      const from = Math.max(seg.first, this.ackedSeq + 1);
      const n = seg.next - from;
      if (n > 0) {
        const loss: SpoolLoss = { readings: n, fromSeq: from, toSeq: seg.next - 1 };
        if (from === seg.first && seg.firstTs !== undefined) loss.fromTs = seg.firstTs;
        if (seg.lastTs !== undefined) loss.toTs = seg.lastTs;
        this.losses.record(loss);
        this.log.error({ ...loss, maxBytes: this.o.maxBytes, lostTotal: this.losses.total }, 'spool quota exceeded: oldest unacknowledged readings dropped');
        this.writeState();
      }
    }
  }

  private unlink(seg: Segment): void {
    if (this.cache?.file === seg.file) this.cache = null;
    try {
      unlinkSync(path.join(this.o.dir, seg.file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, file: seg.file }, 'cannot delete a spool segment');
    }
  }

  flush(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.pending.length === 0 || this.fd === null) return;
    const buf = Buffer.from(`${this.pending.join('\n')}\n`);
    const before = this.fileSize;
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
      this.fileSize += buf.length;
      this.pending = [];
      this.pendingBytes = 0;
      this.dirty = true;
      if (this.o.fsync === 'always') this.sync();
      if (this.ioFailing) {
        this.ioFailing = false;
        this.log.info({ from: 'failing', to: 'ok' }, 'spool writes recovered');
      }
    } catch (err) {
      this.s.ioErrors++;
      // undo a partial write so the retry does not leave half a line in the middle
      try {
        ftruncateSync(this.fd, before);
      } catch {
        // the reader skips undecodable lines and repeated seqs
      }
      if (!this.ioFailing) {
        this.ioFailing = true;
        this.log.error({ err, from: 'ok', to: 'failing', pending: this.pending.length }, 'spool write failed; readings kept in memory and retried');
      }
    }
  }

  private sync(): void {
    if (!this.dirty || this.fd === null) return;
    try {
      fdatasyncSync(this.fd);
      this.dirty = false;
      this.s.fsyncs++;
    } catch (err) {
      this.s.ioErrors++;
      this.log.error({ err }, 'spool fsync failed');
    }
  }

  read(from: number, max: number): Reading[] {
    const e = this.readEncoded(from, max);
    const out: Reading[] = [];
    for (const line of e.json) out.push(JSON.parse(line) as Reading);
    return out;
  }

  readEncoded(from: number, max: number): EncodedReadings {
    const start = Math.max(from, this.firstSeq);
    if (start >= this.next || max <= 0) return noReadings();
    const memBase = this.next - (this.mem.length - this.memHead);
    if (start >= memBase) {
      // the sender has caught up with the memory window: a segment read while it lagged is not needed again
      this.cache = null;
      const i = this.memHead + (start - memBase);
      const out = this.memSlice(i, max);
      // what the sender has read is not read again but after a failure (a rewind, from disk):
      // the window holds what is not sent yet, up to its bounds (written readings only: see append)
      this.dropMem(Math.min(i, this.mem.length - this.pending.length));
      return out;
    }
    this.flush();
    for (const seg of this.segments) {
      if (seg.next <= start) continue;
      const lines = this.load(seg);
      // unreadable now (an I/O error): nothing past it either, so the reader retries rather than skips it
      if (lines === null) return noReadings();
      const out: EncodedReadings = noReadings();
      for (let k = 0; k < lines.seqs.length && out.seqs.length < max; k++) {
        if (lines.seqs[k]! < start) continue;
        out.seqs.push(lines.seqs[k]!);
        out.ts.push(lines.ts[k]!);
        out.json.push(lines.json[k]!);
      }
      if (out.seqs.length > 0) return out;
    }
    // everything from `start` was undecodable on disk but is in memory further on
    return memBase < this.next ? this.memSlice(this.memHead, max) : noReadings();
  }

  /** up to `max` lines of the memory window from index `i` */
  private memSlice(i: number, max: number): EncodedReadings {
    return windowSlice(this.mem, this.memTs, this.next - this.mem.length, i, Math.min(this.mem.length, i + max));
  }

  /** The lines of a segment that decode as readings, cached for the next read of the same segment; null when the file cannot be read. */
  private load(seg: Segment): EncodedReadings | null {
    if (this.cache && this.cache.file === seg.file && this.cache.size === seg.bytes) return this.cache.lines;
    const full = path.join(this.o.dir, seg.file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch (err) {
      this.s.ioErrors++;
      this.log.error({ err, file: full }, 'cannot read a spool segment');
      return null;
    }
    const lines: EncodedReadings = noReadings();
    let last = -1;
    let bad = 0;
    for (const line of text.split('\n')) {
      if (line.length === 0) continue;
      const r = parseLine(line);
      // a line repeated by a retried write, or garbage, is skipped
      if (!r || r.seq <= last) {
        bad++;
        continue;
      }
      lines.seqs.push(r.seq);
      lines.ts.push(r.ts);
      lines.json.push(line);
      last = r.seq;
    }
    if (bad > 0) {
      this.s.corrupt += bad;
      this.log.warn({ file: full, lines: bad }, 'undecodable or repeated lines in a spool segment skipped');
    }
    this.cache = { file: seg.file, size: seg.bytes, lines };
    return lines;
  }

  ack(seq: number): void {
    const upTo = Math.min(seq, this.next - 1);
    if (!Number.isSafeInteger(upTo) || upTo <= this.ackedSeq) return;
    this.ackedSeq = upTo;
    this.deleteAcked();
    // state.json at most every 200 ms: a stale one only costs a resend
    if (!this.stateTimer && !this.closed) {
      this.stateTimer = setTimeout(() => {
        this.stateTimer = null;
        this.writeState();
      }, 200);
      this.stateTimer.unref();
    }
  }

  private deleteAcked(): void {
    // the newest segment stays: it is being written
    while (this.segments.length > 1 && this.segments[0]!.next - 1 <= this.ackedSeq) {
      const seg = this.segments.shift()!;
      this.totalBytes -= seg.bytes;
      this.unlink(seg);
    }
  }

  private writeState(): void {
    const state: SpoolState = { acked: this.ackedSeq, nextSeq: this.next, lost: this.losses.total };
    const tmp = `${this.stateFile}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(state));
      renameSync(tmp, this.stateFile);
    } catch (err) {
      this.s.ioErrors++;
      this.log.warn({ err }, 'cannot write the spool state (readings may be sent again after a restart)');
    }
  }

  takeLosses(): SpoolLoss[] {
    return this.losses.take();
  }

  stats(): SpoolStats {
    return spoolStats(this, this.losses, { bytes: this.totalBytes, maxBytes: this.o.maxBytes, segments: this.segments.length, ...this.s });
  }

  close(): void {
    if (!this.opened || this.closed) return;
    this.flush();
    this.closed = true;
    if (this.o.fsync !== 'none') this.sync();
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.stateTimer) clearTimeout(this.stateTimer);
    this.syncTimer = null;
    this.stateTimer = null;
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    this.writeState();
    try {
      if (readFileSync(this.lockFile, 'utf8').trim() === String(process.pid)) unlinkSync(this.lockFile);
    } catch {
      // already gone
    }
    this.cache = null;
    this.mem = [];
    this.memTs = [];
    this.memLens = [];
    this.memBytes = 0;
    this.memHead = 0;
  }

  /** What the spool holds in memory now, for tests and diagnostics: the window's readings (from seq `windowFrom`) and bytes, and the segment read back last. */
  held(): { windowFrom: number; windowReadings: number; windowBytes: number; cachedSegment: string | null } {
    const n = this.mem.length - this.memHead;
    return { windowFrom: this.next - n, windowReadings: n, windowBytes: this.memBytes, cachedSegment: this.cache?.file ?? null };
  }

  /** Size on disk of every segment file, for tests and diagnostics. */
  diskBytes(): number {
    let n = 0;
    for (const s of this.segments) {
      try {
        n += statSync(path.join(this.o.dir, s.file)).size;
      } catch {
        // deleted meanwhile
      }
    }
    return n;
  }
}
