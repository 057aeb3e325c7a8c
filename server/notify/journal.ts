/**
 * The notification journal: one JSON record a line in
 * `<dataDir>/notify/messages.jsonl`, appended and fsync'ed in groups
 * (`append` resolves once its record is on disk). Replayed at start by the
 * service's reducer; compacted at start into one record per message when the
 * file holds many more lines than messages (written beside, fsync'ed, renamed).
 * A torn last line (a crash mid-write) is skipped and counted.
 */
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { NotifyMessage } from './types.ts';

export type JournalRecord =
  /** a new message, or the whole message at compaction */
  | { t: 'msg'; m: NotifyMessage }
  /** a change of fields of message `id` */
  | { t: 'upd'; id: string; f: Partial<NotifyMessage> }
  /** a receipt or reply that names no message we have recorded yet: kept until one does */
  | { t: 'orphan'; e: OrphanEvent }
  | { t: 'orphan_done'; k: string };

export interface OrphanEvent {
  /** stable key: `r:<gatewayId|clientId>:<status>` for receipts, `p:<…>` for replies */
  k: string;
  clientId?: string;
  gatewayId?: string;
  kind: 'receipt' | 'reply';
  status?: 'delivered' | 'failed';
  code?: string;
  text?: string;
  phone?: string;
  at: number;
}

export class NotifyJournal {
  private fh: FileHandle | null = null;
  private pending: string[] = [];
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private writing: Promise<void> | null = null;
  readonly file: string;
  /** torn or unreadable lines skipped at the last replay */
  skipped = 0;

  constructor(dir: string) {
    this.file = path.join(dir, 'messages.jsonl');
  }

  /** Reads every record (the caller reduces them), then opens the file for appending. */
  async open(): Promise<JournalRecord[]> {
    await mkdir(path.dirname(this.file), { recursive: true });
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const out: JournalRecord[] = [];
    this.skipped = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as JournalRecord);
      } catch {
        this.skipped++;
      }
    }
    // a torn last line must not glue onto the next record
    this.fh = await open(this.file, 'a');
    if (text.length && !text.endsWith('\n')) await this.fh.write('\n');
    return out;
  }

  /** Rewrites the file as `records` (one per live message and orphan), atomically. */
  async compact(records: JournalRecord[]): Promise<void> {
    await this.flush();
    const tmp = `${this.file}.compact`;
    const fh = await open(tmp, 'w');
    try {
      const chunk: string[] = [];
      for (const r of records) {
        chunk.push(JSON.stringify(r));
        if (chunk.length >= 5000) {
          await fh.write(chunk.join('\n') + '\n');
          chunk.length = 0;
        }
      }
      if (chunk.length) await fh.write(chunk.join('\n') + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.fh?.close();
    await rename(tmp, this.file);
    this.fh = await open(this.file, 'a');
  }

  /** Appends records; resolves when they are on disk (group commit: one write and one fsync for whatever is waiting). */
  append(records: readonly JournalRecord[]): Promise<void> {
    if (!this.fh) return Promise.reject(new Error('notify journal not open'));
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

  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh?.close();
    this.fh = null;
  }
}
