/**
 * The notification journal: one JSON record a line in
 * `<dataDir>/notify/messages.jsonl`, appended and fsync'ed in groups
 * (`append` resolves once its record is on disk). Replayed at start by the
 * service's reducer; compacted at start into one record per message when the
 * file holds many more lines than messages (written beside, fsync'ed, renamed).
 * A torn last line (a crash mid-write) is skipped and counted.
 */
import path from 'node:path';
import { JsonlJournal } from '../jsonl-journal.ts';
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

/** The JSONL file of the messages (see jsonl-journal.ts for how it is written and replayed). */
export class NotifyJournal extends JsonlJournal<JournalRecord> {
  constructor(dir: string) {
    super(path.join(dir, 'messages.jsonl'), 'notify journal');
  }
}
