/**
 * What the journals kept in InfluxDB (alarm journal, outage journal, risk
 * history) share: the slice of the store they use (InfluxQL and line
 * protocol written as it is), the started guard, and the errors a write or a
 * query turns into, with the owner's codes and name as SerialConnection has
 * them for DuckDB.
 */
import { GridwatchError } from '../errors.ts';
import type { ConnectionCodes } from './duckdb-connection.ts';

/** The slice of InfluxStore the journals need: InfluxQL with epoch ms, and line protocol written as it is. */
export interface InfluxQuery {
  influxql(q: string): Promise<{ name: string; tags?: Record<string, string>; columns: string[]; values: unknown[][] }[]>;
  /** rejects with an error whose `statusCode` is InfluxDB's answer when there was one */
  writeLines(body: string, precision: 'ns'): Promise<void>;
}

export type InfluxSeriesRows = Awaited<ReturnType<InfluxQuery['influxql']>>;

/**
 * A point's timestamp in ns for an entry with a sequence number: `at` ms +
 * (seq mod 10⁶) ns. Two entries of one series in the same millisecond stay
 * two points, the timestamp stays inside `at`'s millisecond, and a retried
 * write of the same entry lands on the same point key (idempotent).
 */
export function seqTimestamp(at: number, seq: number): string {
  return `${BigInt(Math.round(at)) * 1_000_000n + BigInt(seq % 1_000_000)}`;
}

export class InfluxJournalIo {
  private started = false;

  constructor(
    private readonly query: InfluxQuery,
    private readonly codes: ConnectionCodes,
  ) {}

  /** the database exists: the reading store created it at its start */
  open(): void {
    this.started = true;
  }

  close(): void {
    this.started = false;
  }

  /** Throws (retryable) when not open. */
  assertOpen(): void {
    if (!this.started) throw new GridwatchError(this.codes.unavailable, `${this.codes.what} not started`, { retryable: true });
  }

  /** Writes the lines (ns precision); nothing for none. A failure is a write error, retryable without an answer, on a server error or 429. */
  async write(lines: readonly string[]): Promise<void> {
    this.assertOpen();
    if (lines.length === 0) return;
    try {
      await this.query.writeLines(lines.join('\n'), 'ns');
    } catch (e) {
      const status = (e as { statusCode?: unknown }).statusCode;
      // no answer (refused, reset, timed out), a server error or too many requests: worth another try
      const retryable = typeof status !== 'number' || status >= 500 || status === 429;
      throw new GridwatchError(this.codes.write, `${this.codes.what} write failed${typeof status === 'number' ? ` (${status})` : ''}: ${(e as Error).message}`, { cause: e, retryable });
    }
  }

  /** An InfluxQL query's series; a failure is a read error (retryable when the store says so). */
  async select(sql: string): Promise<InfluxSeriesRows> {
    try {
      return await this.query.influxql(sql);
    } catch (e) {
      throw new GridwatchError(this.codes.read, `${this.codes.what} query failed: ${(e as Error).message}`, { cause: e, retryable: (e as GridwatchError).retryable ?? false });
    }
  }
}

/** A journal kept in InfluxDB: its I/O, opened by `start` and closed by `stop`. */
export abstract class InfluxJournalBase {
  protected readonly io: InfluxJournalIo;

  constructor(query: InfluxQuery, codes: ConnectionCodes) {
    this.io = new InfluxJournalIo(query, codes);
  }

  async start(): Promise<void> {
    this.io.open();
  }

  async stop(): Promise<void> {
    this.io.close();
  }
}
