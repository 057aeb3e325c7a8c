/**
 * One DuckDB connection as the embedded store and the alarm journal use it:
 * writes one at a time in call order (one transaction at a time on a
 * connection), each read after the writes queued before it, errors turned
 * into GridwatchErrors with the owner's codes.
 */
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { GridwatchError, type ServerErrorCode } from '../errors.ts';
import { SerialQueue } from './serial.ts';

export interface ConnectionCodes {
  /** what the owner is called in messages: 'duckdb store', 'alarm journal' */
  what: string;
  unavailable: ServerErrorCode;
  write: ServerErrorCode;
  read: ServerErrorCode;
}

export class SerialConnection {
  private conn: DuckDBConnection | null = null;
  private readonly writes = new SerialQueue();

  constructor(private readonly codes: ConnectionCodes) {}

  open(conn: DuckDBConnection): DuckDBConnection {
    this.conn = conn;
    return conn;
  }

  /** The open connection; throws (retryable) when not open. */
  get(): DuckDBConnection {
    if (!this.conn) throw new GridwatchError(this.codes.unavailable, `${this.codes.what} not started`, { retryable: true });
    return this.conn;
  }

  /** Runs `fn` after every write queued before it; a failure is a retryable write error. */
  write<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.writes.run(async () => {
      const conn = this.get();
      try {
        return await fn(conn);
      } catch (e) {
        if (e instanceof GridwatchError) throw e;
        throw new GridwatchError(this.codes.write, `${this.codes.what} write failed: ${(e as Error).message}`, { cause: e, retryable: true });
      }
    });
  }

  /** Rows of a query, after the writes queued before it. */
  async select(sql: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
    await this.writes.idle();
    try {
      const reader = await this.get().runAndReadAll(sql, params);
      return reader.getRowObjectsJS() as Record<string, unknown>[];
    } catch (e) {
      if (e instanceof GridwatchError) throw e;
      throw new GridwatchError(this.codes.read, `${this.codes.what} query failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Columns of a query by name (one array per column: cheaper than row objects for large answers), after the writes queued before it. */
  async selectColumns(sql: string, params: DuckDBValue[] = []): Promise<Record<string, unknown[]>> {
    await this.writes.idle();
    try {
      const reader = await this.get().runAndReadAll(sql, params);
      return reader.getColumnsObjectJS() as Record<string, unknown[]>;
    } catch (e) {
      if (e instanceof GridwatchError) throw e;
      throw new GridwatchError(this.codes.read, `${this.codes.what} query failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Lets queued writes finish, runs `last` (e.g. a CHECKPOINT; its failure ignored) and closes. */
  async close(last?: (conn: DuckDBConnection) => Promise<unknown>): Promise<void> {
    await this.writes.idle();
    const c = this.conn;
    this.conn = null;
    if (!c) return;
    if (last) await last(c).catch(() => undefined);
    c.closeSync();
  }

  get isOpen(): boolean {
    return this.conn !== null;
  }
}

/** Runs `fn` in one transaction on `conn`: committed, or rolled back and rethrown. */
export async function inTransaction<T>(conn: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
  await conn.run('BEGIN TRANSACTION');
  try {
    const r = await fn();
    await conn.run('COMMIT');
    return r;
  } catch (e) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
