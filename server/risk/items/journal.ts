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
import path from 'node:path';
import type { RiskCode, RiskItem } from '../../../contract/risk.ts';
import { JsonlJournal } from '../../jsonl-journal.ts';
import type { ItemStep } from './lifecycle.ts';

export type ItemRecord =
  | { t: 'step'; s: ItemStep }
  /** a station's last code and its day, when either changed */
  | { t: 'code'; station: string; code: RiskCode | null; day: string }
  /** a whole item with its events, written when the journal is compacted */
  | { t: 'item'; item: RiskItem };

/** The JSONL file of the items' steps (see jsonl-journal.ts for how it is written and replayed). */
export class ItemJournal extends JsonlJournal<ItemRecord> {
  constructor(dir: string) {
    super(path.join(dir, 'items.jsonl'), 'risk item journal');
  }
}
