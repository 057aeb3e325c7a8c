/**
 * The risk items' journal: one JSON record a line in
 * `<dataDir>/risk/items.jsonl` — every step of every item with who and when,
 * and each station's last code — appended and fsync'ed (`append` resolves
 * once its records are on disk, so an answered request survives kill -9).
 * Replayed at start through the lifecycle's reducer; a torn last line (a
 * crash mid-write) is skipped and counted. Each computation adds a record per
 * station whose day moved on, so at start a journal grown to many more lines
 * than items and stations is compacted into one record for each. It lives in dataDir like the
 * notification journal, the same whichever telemetry store is configured.
 */
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { RiskCode, RiskItem } from '../../../contract/risk.ts';
import type { ItemStep } from './lifecycle.ts';

export type ItemRecord =
  | { t: 'step'; s: ItemStep }
  /** a station's last code and its day, when either changed */
  | { t: 'code'; station: string; code: RiskCode | null; day: string }
  /** a whole item with its events, written when the journal is compacted */
  | { t: 'item'; item: RiskItem };

export class ItemJournal {
  private fh: FileHandle | null = null;
  private chain: Promise<void> = Promise.resolve();
  readonly file: string;
  /** torn or unreadable lines skipped at the last replay */
  skipped = 0;

  constructor(dir: string) {
    this.file = path.join(dir, 'items.jsonl');
  }

  /** Reads every record, then opens the file for appending. */
  async open(): Promise<ItemRecord[]> {
    await mkdir(path.dirname(this.file), { recursive: true });
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const out: ItemRecord[] = [];
    this.skipped = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as ItemRecord);
      } catch {
        this.skipped++;
      }
    }
    this.fh = await open(this.file, 'a');
    // a torn last line must not glue onto the next record
    if (text.length && !text.endsWith('\n')) await this.fh.write('\n');
    return out;
  }

  /** Appends records in order; resolves when they are on disk. */
  append(records: readonly ItemRecord[]): Promise<void> {
    const run = this.chain.then(async () => {
      if (!this.fh) throw new Error('risk item journal is not open');
      if (!records.length) return;
      await this.fh.write(records.map((r) => JSON.stringify(r)).join('\n') + '\n');
      await this.fh.datasync();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Rewrites the file as `records` (one per item and station): written beside, fsync'ed, renamed over it. */
  async compact(records: readonly ItemRecord[]): Promise<void> {
    await this.chain;
    const tmp = `${this.file}.compact`;
    const fh = await open(tmp, 'w');
    try {
      await fh.write(records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : ''));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.fh?.close();
    await rename(tmp, this.file);
    this.fh = await open(this.file, 'a');
  }

  async close(): Promise<void> {
    await this.chain;
    await this.fh?.close();
    this.fh = null;
  }
}
