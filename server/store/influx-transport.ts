/**
 * HTTP to InfluxDB, for the reading store (influx.ts) and the alarm journal
 * (server/alarms/journal-influx.ts). Writes go through
 * @influxdata/influxdb-client's transport (node:http on kept-alive sockets,
 * auth, timeouts, HTTP errors as HttpError with InfluxDB's `statusCode`) as
 * line protocol encoded by the caller; retries are the callers' (the ingest
 * holds each batch until it is stored, the journal writer retries). Queries
 * are InfluxQL over `/query`, which 1.x, 2.x (v1-compatible API) and 3.x all
 * serve: unreachable → GW_ERR_STORE_UNAVAILABLE (retryable), refused →
 * GW_ERR_STORE_QUERY (retryable on a 5xx).
 *
 * InfluxDB 1.x (Debian's influxd 1.6) has no `/api/v2/write`; the client only
 * speaks that. `V1WriteTransport` rewrites the client's write requests to 1.x's
 * `/write?db=&rp=&precision=` and leaves everything else untouched.
 */
import { InfluxDB, setLogger } from '@influxdata/influxdb-client';
import type { InfluxConfig } from '../config.ts';
import { GridwatchError } from '../errors.ts';

type Transport = InfluxDB['transport'];

const WRITE_OPTIONS = { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' } } as const;

// The client logs write failures to the console on its own; ours are
// reported by the ingest (once per state change, through pino), not twice.
setLogger({ error: () => undefined, warn: () => undefined });

/** One series of an InfluxQL answer (epoch ms times). */
export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

/** InfluxQL identifier. */
export function ident(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** InfluxQL string literal: single quotes, `\` and `'` escaped. */
export function influxString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

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

/** Line protocol writes and InfluxQL queries against one database (or bucket). */
export class InfluxTransport {
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

  async ping(): Promise<boolean> {
    try {
      const res = await fetch(`${this.cfg.url.replace(/\/$/, '')}/ping`, { signal: AbortSignal.timeout(2000) });
      return res.status === 204 || res.ok;
    } catch {
      return false;
    }
  }
}
