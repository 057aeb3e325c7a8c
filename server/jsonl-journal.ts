/**
 * An append-only journal of JSON records, one a line, in a file of the data
 * directory — the base of the notification journal and the risk items'
 * journal. `open` replays every record (a torn or unreadable line, as a crash
 * mid-write leaves, is skipped and counted) and opens the file for appending;
 * `append` resolves once its records are on disk (group commit: whatever is
 * waiting goes out in one write and one fdatasync); `compact` rewrites the
 * file as the records given — written beside, fsync'ed, renamed over it — so a
 * crash leaves either the old file or the new one.
 */
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** records a compaction writes per write call */
const COMPACT_CHUNK = 5000;

export class JsonlJournal<R> {
  private fh: FileHandle | null = null;
  private pending: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private writing: Promise<void> | null = null;
  /** torn or unreadable lines skipped at the last replay */
  skipped = 0;

  /** `name` says which journal in errors ("notify journal") */
  constructor(
    readonly file: string,
    private readonly name: string,
  ) {}

  /** Reads every record (the caller reduces them), then opens the file for appending. */
  async open(): Promise<R[]> {
    await mkdir(path.dirname(this.file), { recursive: true });
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const out: R[] = [];
    this.skipped = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as R);
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
  append(records: readonly R[]): Promise<void> {
    if (!this.fh) return Promise.reject(new Error(`${this.name} is not open`));
    if (!records.length) return this.writing ?? Promise.resolve();
    for (const r of records) this.pending.push(JSON.stringify(r));
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.writing) this.writing = this.drain();
    return p;
  }

  private async drain(): Promise<void> {
    while (this.pending.length) {
      const lines = this.pending;
      const waiters = this.waiters;
      this.pending = [];
      this.waiters = [];
      try {
        await this.fh!.write(lines.join('\n') + '\n');
        await this.fh!.datasync();
        for (const w of waiters) w.resolve();
      } catch (e) {
        for (const w of waiters) w.reject(e as Error);
      }
    }
    this.writing = null;
  }

  /** Resolves when everything appended so far is on disk (or has failed). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** Rewrites the file as `records`, atomically (beside, fsync'ed, renamed). */
  async compact(records: readonly R[]): Promise<void> {
    await this.flush();
    const tmp = `${this.file}.compact`;
    const fh = await open(tmp, 'w');
    try {
      for (let i = 0; i < records.length; i += COMPACT_CHUNK) {
        await fh.write(
          records
            .slice(i, i + COMPACT_CHUNK)
            .map((r) => JSON.stringify(r))
            .join('\n') + '\n',
        );
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.fh?.close();
    await rename(tmp, this.file);
    this.fh = await open(this.file, 'a');
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh?.close();
    this.fh = null;
  }
}
