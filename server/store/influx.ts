/**
 * InfluxDB store: the reading store composed of line protocol encoding
 * (influx-line.ts), the HTTP transport (influx-transport.ts: kept-alive
 * writes, InfluxQL, error codes; the alarm journal writes and reads through
 * it as well) and the reading queries (influx-query.ts). Batching and
 * retries are the ingest's (server/ingest.ts), which holds each batch until
 * it is stored.
 */
import type { InfluxConfig } from '../config.ts';
import { GridwatchError } from '../errors.ts';
import { encodeLines } from './influx-line.ts';
import { history, latest } from './influx-query.ts';
import { ident, InfluxTransport, type InfluxSeries } from './influx-transport.ts';
import type { CounterWindow, CounterWindowQuery, HistoryQuery, HistorySeries, LineLossQuery, StoredReading, TelemetryStore } from './types.ts';
import { counterWindowInflux } from './counters-influx.ts';
import type { LineLossRecord } from '../energy/types.ts';
import { lineLossLines, lineLossQuery, lineLossRecords } from './line-loss-influx.ts';

export { MEASUREMENT, decodeTagValue, encodeLines, encodeTagValue, toLine } from './influx-line.ts';
export { influxString, type InfluxSeries } from './influx-transport.ts';

const NEWLINE = Buffer.from('\n');

export class InfluxStore implements TelemetryStore {
  readonly kind = 'influxdb' as const;
  private started = false;
  readonly transport: InfluxTransport;

  constructor(private readonly cfg: InfluxConfig) {
    this.transport = new InfluxTransport(cfg);
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

  /** Line protocol as it is, at `precision` (InfluxTransport.writeLines): the alarm journal writes this way too. */
  writeLines(body: Uint8Array | string, precision: 'ms' | 'ns'): Promise<void> {
    return this.transport.writeLines(body, precision);
  }

  influxql(q: string, method: 'GET' | 'POST' = 'GET'): Promise<InfluxSeries[]> {
    return this.transport.influxql(q, method);
  }

  latest(devices?: readonly string[], notAfter?: number): Promise<StoredReading[]> {
    return latest((q) => this.influxql(q), devices, notAfter);
  }

  history(q: HistoryQuery): Promise<HistorySeries[]> {
    return history((q2) => this.influxql(q2), q);
  }

  /** The energy counters of a window over every device in three statements (server/store/counters-influx.ts). */
  counterWindow(q: CounterWindowQuery): Promise<CounterWindow> {
    return counterWindowInflux((q2) => this.influxql(q2), q);
  }

  async writeLineLoss(records: readonly LineLossRecord[]): Promise<void> {
    if (records.length === 0) return;
    if (!this.started) throw new GridwatchError('GW_ERR_STORE_UNAVAILABLE', 'influx store not started', { retryable: true });
    try {
      await this.writeLines(lineLossLines(records), 'ms');
    } catch (e) {
      throw new GridwatchError('GW_ERR_STORE_WRITE', `influx line-loss write failed: ${(e as Error).message}`, { cause: e, retryable: true });
    }
  }

  async lineLoss(q: LineLossQuery): Promise<LineLossRecord[]> {
    return lineLossRecords(await this.influxql(lineLossQuery(q)));
  }

  ping(): Promise<boolean> {
    return this.transport.ping();
  }
}
