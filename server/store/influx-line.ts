/**
 * Line protocol for InfluxDB: readings encoded straight into bytes
 * (encodeLines; toLine for one reading, as text), tag values percent-encoded
 * where line protocol cannot carry them and decoded again on read.
 */
import type { StoredReading } from './types.ts';

export const MEASUREMENT = 'reading';
/** the tags of a reading's line */
export const TAGS = ['site', 'room', 'transformer', 'line', 'device'] as const;

/**
 * Tag values as stored. Line protocol has no way to carry a newline, a tab or
 * a carriage return in a tag value, and a trailing backslash would escape the
 * separator after it; so `%`, `\` and control characters are percent-encoded
 * (`%0A`, `%5C`, `%25` …) and decoded again on every read. Everything else,
 * commas, equals signs and spaces included, is stored as sent (backslash
 * escaped as line protocol wants). Ordinary ids pass through untouched.
 */
const NEEDS_PCT = /[%\\\x00-\x1f\x7f]/;
const PCT = /[%\\\x00-\x1f\x7f]/g;
const LP_TAG = /[,= ]/g;
export function encodeTagValue(v: string): string {
  if (NEEDS_PCT.test(v)) v = v.replace(PCT, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  return v;
}
export function decodeTagValue(v: string): string {
  return v.includes('%') ? v.replace(/%([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))) : v;
}
function lpTag(v: string): string {
  const e = encodeTagValue(v);
  return e.includes(',') || e.includes('=') || e.includes(' ') ? e.replace(LP_TAG, '\\$&') : e;
}

/** The measurement and tags of a device's lines, escaped once per device and place (not per reading), as UTF-8 bytes. */
interface SeriesKey {
  site: string;
  room: string;
  transformer: string;
  line: string;
  key: Uint8Array;
}
const seriesKeys = new Map<string, SeriesKey>();
/** more devices than this (a topology never has as many): start over rather than grow without bound */
const SERIES_KEYS_MAX = 200_000;

function seriesKey(r: StoredReading): Uint8Array {
  const k = seriesKeys.get(r.device);
  if (k !== undefined && k.site === r.site && k.room === r.room && k.transformer === r.transformer && k.line === r.line) return k.key;
  // tags in key order (device, line, room, site, transformer): InfluxDB indexes sorted tags fastest
  let key = MEASUREMENT;
  if (r.device !== '') key += `,device=${lpTag(r.device)}`;
  if (r.line !== '') key += `,line=${lpTag(r.line)}`;
  if (r.room !== '') key += `,room=${lpTag(r.room)}`;
  if (r.site !== '') key += `,site=${lpTag(r.site)}`;
  if (r.transformer !== '') key += `,transformer=${lpTag(r.transformer)}`;
  if (seriesKeys.size >= SERIES_KEYS_MAX) seriesKeys.clear();
  const bytes = Buffer.from(key, 'utf8');
  seriesKeys.set(r.device, { site: r.site, room: r.room, transformer: r.transformer, line: r.line, key: bytes });
  return bytes;
}

/** `${before}${key}${after}` as UTF-8 bytes, built once per key (the text is only made on a miss) */
function cachedBytes(m: Map<string, Uint8Array>, key: string, before: string, after: string): Uint8Array {
  let b = m.get(key);
  if (b === undefined) m.set(key, (b = Buffer.from(`${before}${key}${after}`, 'utf8')));
  return b;
}
/**
 * ` name=` (first field) and `,name=` of each field, looked up by the bare
 * name: a key built per field would itself be garbage per reading. Field
 * names are the contract's quantities: a handful.
 */
const FIRST_FIELD = new Map<string, Uint8Array>();
const NEXT_FIELD = new Map<string, Uint8Array>();
function fieldPrefix(name: string, first: boolean): Uint8Array {
  return first ? cachedBytes(FIRST_FIELD, name, ' ', '=') : cachedBytes(NEXT_FIELD, name, ',', '=');
}
/** ` quality="…" ` / `,quality="…" ` (with the space before the timestamp) by quality */
const FIRST_QUALITY = new Map<string, Uint8Array>();
const NEXT_QUALITY = new Map<string, Uint8Array>();
function qualityField(q: string, first: boolean): Uint8Array {
  return first ? cachedBytes(FIRST_QUALITY, q, ' quality="', '" ') : cachedBytes(NEXT_QUALITY, q, ',quality="', '" ');
}
const LATE_FIELD = [Buffer.from(',late=T'), Buffer.from(' late=T')] as const;

/**
 * Line protocol written straight into bytes: one scratch buffer, reused
 * (encode copies its bytes out). Built as strings, each reading cost about
 * 2.2 kB of garbage (a string per field, cons strings per concatenation, a
 * flat copy for Buffer.from): 29 % of all the server allocated in the alarm
 * bench, and the young-generation collections it caused stalled the event
 * loop that delivers alarms.
 *
 * A number that is not a plain non-negative integer is not turned into text
 * with String(x): V8 keeps the result in its number-string cache, whose
 * entries outlive the next scavenge and are promoted to the old generation,
 * so every field of every reading went there (44 % of what the server
 * promoted in the alarm bench).
 * `prepare` writes all of a batch's such numbers with one JSON.stringify of
 * an array (the same shortest round-trip text, no cache) and `line` copies
 * each number's characters from it, in the same order.
 */
class LineWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private pos = 0;
  /** the batch's numbers written as text (`prepare`), and where the next one starts */
  private readonly nums: number[] = [];
  private numText = '';
  private numPos = 0;

  /** Writes the text of every number of `readings` that `line` will need, at once. */
  prepare(readings: readonly StoredReading[]): void {
    // written over by index and cut to length, never emptied: `length = 0` would drop the array's storage and
    // every batch would grow it again from nothing (about 3 bytes of garbage per byte of numbers)
    const nums = this.nums;
    let n = 0;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const v = r.v as Record<string, number | undefined>;
      for (const k in v) {
        const x = v[k];
        if (x !== undefined && prepared(x)) nums[n++] = x;
      }
      if (prepared(r.ts)) nums[n++] = r.ts;
    }
    if (nums.length > n) nums.length = n;
    this.numText = n ? JSON.stringify(nums) : '';
    this.numPos = 1;
  }

  /** a number that is not a non-negative safe integer: the next prepared text, or String(x) when not finite */
  private number(x: number): void {
    // not finite: JSON has no text for it; never in a validated reading (kept as String(x) wrote it)
    if (!prepared(x)) return this.ascii(String(x));
    const t = this.numText;
    let i = this.numPos;
    const start = i;
    this.room(32);
    const buf = this.buf;
    let p = this.pos;
    for (;;) {
      if (i >= t.length) break;
      const c = t.charCodeAt(i);
      if (c === 44 || c === 93) break;
      buf[p++] = c;
      i++;
    }
    if (i === start) throw new Error('line encoder: number not prepared');
    this.pos = p;
    this.numPos = i + 1;
  }

  reset(): void {
    this.pos = 0;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    this.room(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = b[i]!;
    this.pos = p;
  }

  /** a string of ASCII characters (a number's text) */
  ascii(s: string): void {
    const n = s.length;
    this.room(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** a non-negative safe integer, digit by digit (no string) */
  uint(x: number): void {
    this.room(16);
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    do {
      const q = Math.floor(x / 10);
      buf[p++] = 48 + (x - q * 10);
      x = q;
    } while (x > 0);
    for (let i = start, j = p - 1; i < j; i++, j--) {
      const t = buf[i]!;
      buf[i] = buf[j]!;
      buf[j] = t;
    }
    this.pos = p;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** One reading: `reading,<tags sorted> <fields> <ms>`. */
  line(r: StoredReading): void {
    this.bytes(seriesKey(r));
    let first = true;
    const v = r.v as Record<string, number | undefined>;
    for (const k in v) {
      const x = v[k];
      if (x === undefined) continue;
      this.bytes(fieldPrefix(k, first));
      first = false;
      if (needsText(x)) this.number(x);
      else this.uint(x);
    }
    if (r.late) {
      this.bytes(LATE_FIELD[first ? 1 : 0]);
      first = false;
    }
    // the quality is `quality`: `q` is the reactive-power quantity
    this.bytes(qualityField(r.q, first));
    if (needsText(r.ts)) this.number(r.ts);
    else this.uint(r.ts);
  }

  /** The lines written since reset, as a new Buffer of their own. */
  take(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  text(): string {
    return this.buf.toString('utf8', 0, this.pos);
  }
}
const writer = new LineWriter();

/** A number `LineWriter.uint` cannot write digit by digit. */
function needsText(x: number): boolean {
  return !(Number.isSafeInteger(x) && x >= 0);
}

/** A number whose text `LineWriter.prepare` writes (and `number` then takes, in the same order). */
function prepared(x: number): boolean {
  return needsText(x) && Number.isFinite(x);
}

/** Readings as lines of line protocol, newline-separated, UTF-8. */
export function encodeLines(readings: readonly StoredReading[]): Buffer {
  writer.reset();
  writer.prepare(readings);
  for (let i = 0; i < readings.length; i++) {
    if (i) writer.byte(10);
    writer.line(readings[i]!);
  }
  return writer.take();
}

/**
 * One reading as a line of line protocol: `reading,<tags sorted> <fields> <ms>`.
 * Written here rather than through the client's Point: Point allocates an
 * escaped copy of every field and sorts keys per point, which was a fifth of
 * the server's CPU at 30k readings/s. The lines still go through the
 * client's transport (InfluxStore.writeEncoded); test/store/influx-line.test.ts
 * checks this against Point for ordinary input.
 */
export function toLine(r: StoredReading): string {
  writer.reset();
  writer.prepare([r]);
  writer.line(r);
  return writer.text();
}
