/**
 * InfluxDB store. Writes go through @influxdata/influxdb-client's transport
 * (auth, timeouts, HTTP errors as HttpError) as line protocol we encode
 * (toLine); batching and retries are the ingest's (server/ingest.ts), which
 * holds each batch until it is stored. Queries are InfluxQL over `/query`,
 * which 1.x, 2.x (v1-compatible API) and 3.x all serve.
 *
 * InfluxDB 1.x (Debian's influxd 1.6) has no `/api/v2/write`; the client only
 * speaks that. `V1WriteTransport` rewrites the client's write requests to 1.x's
 * `/write?db=&rp=&precision=` and leaves everything else untouched.
 */
import { InfluxDB, setLogger } from '@influxdata/influxdb-client';
import { QUANTITIES, isQuantity, type Quality, type Quantity, type Values } from '../../contract/index.ts';
import type { InfluxConfig } from '../config.ts';
import { GridwatchError } from '../errors.ts';
import type { HistoryQuery, HistorySeries, StoredReading, TelemetryStore } from './types.ts';

type Transport = InfluxDB['transport'];

const WRITE_OPTIONS = { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' } } as const;

// The client logs write failures to the console on its own; ours are
// reported by the ingest (once per state change, through pino), not twice.
setLogger({ error: () => undefined, warn: () => undefined });

export const MEASUREMENT = 'reading';
const TAGS = ['site', 'room', 'transformer', 'line', 'device'] as const;

/** Wraps the client's transport; rewrites `/api/v2/write?org&bucket&precision` to 1.x `/write`. */
class V1WriteTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly cfg: InfluxConfig,
  ) {}
  get chunkCombiner() {
    return this.inner.chunkCombiner;
  }
  private rewrite(path: string): string {
    if (!path.startsWith('/api/v2/write')) return path;
    const src = new URL(path, 'http://x');
    const out = new URLSearchParams({ db: this.cfg.database, precision: src.searchParams.get('precision') ?? 'ms' });
    if (this.cfg.retentionPolicy) out.set('rp', this.cfg.retentionPolicy);
    if (this.cfg.username) out.set('u', this.cfg.username);
    if (this.cfg.password) out.set('p', this.cfg.password);
    return `/write?${out}`;
  }
  send(...args: Parameters<Transport['send']>): void {
    const [path, ...rest] = args;
    this.inner.send(this.rewrite(path), ...rest);
  }
  request(...args: Parameters<Transport['request']>): Promise<any> {
    const [path, ...rest] = args;
    return this.inner.request(this.rewrite(path), ...rest);
  }
  iterate(...args: Parameters<Transport['iterate']>): AsyncIterableIterator<Uint8Array> {
    const [path, ...rest] = args;
    return this.inner.iterate(this.rewrite(path), ...rest);
  }
}

/** InfluxQL string literal: single quotes, `\` and `'` escaped. */
export function influxString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
/** InfluxQL identifier. */
function ident(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

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

const NEWLINE = Buffer.from('\n');

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

/** InfluxQL's GROUP BY time(step, offset) wants the offset inside [0, step). */
function bucketOffset(q: HistoryQuery): number {
  const step = Math.floor(q.stepMs ?? 1);
  return (((-Math.floor(q.utcOffsetMs ?? 0) % step) + step) % step);
}

export class InfluxStore implements TelemetryStore {
  readonly kind = 'influxdb' as const;
  private started = false;
  /** the write path the client's WriteApi would use, without its precision; V1WriteTransport rewrites it for 1.x */
  private readonly writePath: string;
  private readonly client: InfluxDB;
  private readonly queryHeaders: Record<string, string>;
  private readonly queryDb: string;

  constructor(private readonly cfg: InfluxConfig) {
    const base = new InfluxDB({ url: cfg.url, token: cfg.token ?? '', timeout: cfg.timeoutMs });
    this.client =
      cfg.apiVersion === 1
        ? new InfluxDB({ url: cfg.url, timeout: cfg.timeoutMs, transport: new V1WriteTransport(base.transport, cfg) })
        : base;
    this.queryHeaders = {};
    if (cfg.apiVersion === 2 && cfg.token) this.queryHeaders.authorization = `Token ${cfg.token}`;
    this.queryDb = cfg.apiVersion === 2 ? (cfg.bucket ?? cfg.database) : cfg.database;
    const org = encodeURIComponent(cfg.org ?? '');
    this.writePath = `/api/v2/write?org=${org}&bucket=${encodeURIComponent(cfg.bucket ?? cfg.database)}`;
  }

  async start(): Promise<void> {
    if (this.cfg.apiVersion === 1 && this.cfg.createDatabase) {
      await this.influxql(`CREATE DATABASE ${ident(this.cfg.database)}`, 'POST');
    }
    this.started = true;
  }

  async stop(): Promise<void> {
    // a write in flight finishes or fails on its own; the ingest drains before stopping the store
    this.started = false;
  }

  write(readings: readonly StoredReading[]): Promise<void> {
    return this.writeEncoded([this.encode(readings)]);
  }

  /** The readings' lines, newline-separated, as UTF-8 bytes (off the JavaScript heap, see TelemetryStore.encode). */
  encode(readings: readonly StoredReading[]): Uint8Array {
    return encodeLines(readings);
  }

  /**
   * Sends the chunks as one request body, bytes as they are: no detour
   * through a JavaScript string (decoding megabytes of lines to a string and
   * encoding it again for the socket cost the event loop several ms per
   * batch, in one piece). Resolves when InfluxDB has confirmed the write.
   */
  async writeEncoded(chunks: readonly Uint8Array[]): Promise<void> {
    if (!this.started) throw new GridwatchError('GW_ERR_STORE_UNAVAILABLE', 'influx store not started', { retryable: true });
    const parts: Uint8Array[] = [];
    for (const c of chunks) {
      if (c.byteLength === 0) continue;
      if (parts.length) parts.push(NEWLINE);
      parts.push(c);
    }
    if (parts.length === 0) return;
    try {
      await this.writeLines(Buffer.concat(parts), 'ms');
    } catch (e) {
      throw new GridwatchError('GW_ERR_STORE_WRITE', `influx write failed: ${(e as Error).message}`, { cause: e, retryable: true });
    }
  }

  /**
   * Line protocol as it is, at `precision`, through the client's transport
   * (node:http on kept-alive sockets, as the readings go): the alarm journal
   * writes this way too. Rejects with the client's error, whose
   * `statusCode` is InfluxDB's answer when there was one.
   */
  async writeLines(body: Uint8Array | string, precision: 'ms' | 'ns'): Promise<void> {
    const path = `${this.writePath}&precision=${precision}`;
    // iterate() takes the body as it is (request() would JSON-encode a Buffer) and rejects on a non-2xx status
    for await (const _ of this.client.transport.iterate(path, body, WRITE_OPTIONS)) {
      // InfluxDB answers a write with 204 and no body; an error body is read by the client into its HttpError
    }
  }

  async influxql(q: string, method: 'GET' | 'POST' = 'GET'): Promise<InfluxSeries[]> {
    const params = new URLSearchParams({ q, epoch: 'ms' });
    if (!q.startsWith('CREATE DATABASE')) params.set('db', this.queryDb);
    if (this.cfg.apiVersion === 1 && this.cfg.username) params.set('u', this.cfg.username);
    if (this.cfg.apiVersion === 1 && this.cfg.password) params.set('p', this.cfg.password);
    let res: Response;
    try {
      res = await fetch(`${this.cfg.url.replace(/\/$/, '')}/query?${params}`, {
        method,
        headers: this.queryHeaders,
        signal: AbortSignal.timeout(this.cfg.timeoutMs),
      });
    } catch (e) {
      throw new GridwatchError('GW_ERR_STORE_UNAVAILABLE', `influx unreachable: ${(e as Error).message}`, { cause: e, retryable: true });
    }
    const body = (await res.json().catch(() => null)) as { results?: { series?: InfluxSeries[]; error?: string }[]; error?: string } | null;
    if (!res.ok || !body || body.error) {
      throw new GridwatchError('GW_ERR_STORE_QUERY', `influx query failed (${res.status}): ${body?.error ?? 'no body'}`, { retryable: res.status >= 500 });
    }
    const first = body.results?.[0];
    if (first?.error) throw new GridwatchError('GW_ERR_STORE_QUERY', `influx query failed: ${first.error}`);
    return first?.series ?? [];
  }

  private rowToReading(series: InfluxSeries, row: unknown[]): StoredReading {
    const tags = series.tags ?? {};
    const out: StoredReading = { site: '', room: '', transformer: '', line: '', device: '', ts: 0, q: 'good', late: false, v: {} };
    const v: Values = {};
    series.columns.forEach((col, i) => {
      const val = row[i];
      if (col === 'time') out.ts = Number(val);
      else if (col === 'quality') out.q = val as Quality;
      else if (col === 'late') out.late = val === true;
      else if ((TAGS as readonly string[]).includes(col)) {
        if (typeof val === 'string') (out as unknown as Record<string, string>)[col] = decodeTagValue(val);
      } else if (isQuantity(col) && typeof val === 'number') v[col] = val;
    });
    for (const t of TAGS) if (tags[t] !== undefined) out[t] = decodeTagValue(tags[t]!);
    out.v = v;
    return out;
  }

  async latest(devices?: readonly string[], notAfter?: number): Promise<StoredReading[]> {
    const conds: string[] = [];
    if (devices && devices.length) conds.push(`(${devices.map((d) => `"device" = ${influxString(encodeTagValue(d))}`).join(' OR ')})`);
    if (notAfter !== undefined) conds.push(`time <= ${Math.floor(notAfter)}ms`);
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    // One newest row per device; grouping by every tag keeps the tag values.
    const series = await this.influxql(`SELECT * FROM ${MEASUREMENT} ${where} GROUP BY "device" ORDER BY time DESC LIMIT 1`);
    return series.flatMap((s) => s.values.map((row) => this.rowToReading(s, row)));
  }

  async history(q: HistoryQuery): Promise<HistorySeries[]> {
    if (q.devices.length === 0 || q.quantities.length === 0) return [];
    const quantities = q.quantities.filter((x) => x in QUANTITIES);
    const devWhere = q.devices.map((d) => `"device" = ${influxString(encodeTagValue(d))}`).join(' OR ');
    const time = `time >= ${Math.floor(q.from)}ms AND time < ${Math.floor(q.to)}ms`;
    const agg = q.aggregate ?? 'mean';
    const fn = agg === 'last' ? 'last' : agg;
    const sql = q.stepMs
      ? `SELECT ${quantities.map((x) => `${fn}(${ident(x)}) AS ${ident(x)}`).join(', ')} FROM ${MEASUREMENT} WHERE (${devWhere}) AND ${time} GROUP BY time(${Math.floor(q.stepMs)}ms, ${bucketOffset(q)}ms), "device" fill(none)`
      : `SELECT ${quantities.map(ident).join(', ')} FROM ${MEASUREMENT} WHERE (${devWhere}) AND ${time} GROUP BY "device"`;
    const series = await this.influxql(sql);
    const out: HistorySeries[] = [];
    for (const s of series) {
      const device = decodeTagValue(s.tags?.device ?? '');
      quantities.forEach((quantity: Quantity) => {
        const ci = s.columns.indexOf(quantity);
        const ts: number[] = [];
        const values: (number | null)[] = [];
        for (const row of s.values) {
          const val = row[ci];
          if (val === null || val === undefined) continue;
          ts.push(Number(row[0]));
          values.push(val as number);
        }
        if (ts.length > 0) out.push({ device, quantity, ts, values });
      });
    }
    return out;
  }

  async ping(): Promise<boolean> {
    try {
      const res = await fetch(`${this.cfg.url.replace(/\/$/, '')}/ping`, { signal: AbortSignal.timeout(2000) });
      return res.status === 204 || res.ok;
    } catch {
      return false;
    }
  }
}
