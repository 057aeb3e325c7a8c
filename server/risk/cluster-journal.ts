/**
 * The risk items' journal shared by the servers of a cluster (docs/cluster.md,
 * Risk): a replicated JetStream stream `<prefix>_riskitems` in place of
 * `<dataDir>/risk/items.jsonl`, one message per append holding its records
 * in order. Every server replays it at start and reads what the others
 * appended before each change and every `syncMs` (RiskItems), so the REST of
 * any server shows the same items.
 *
 * An append is published with the stream's last sequence this server has
 * applied (JetStream's expected-last-sequence check): when another server
 * appended meanwhile it is refused (JournalConflict), and RiskItems reads the
 * new records and decides again on the state they make — a follow-up or
 * verification posted on any server is applied once, in one order for all.
 * The stream is never compacted.
 */
import { RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from 'nats';
import type { ItemRecord } from './items/journal.ts';
import { JournalConflict, type ItemsJournal } from './items/service.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

export class StreamItemJournal implements ItemsJournal {
  readonly file: string;
  skipped = 0;
  /** last stream sequence read and applied */
  private last = 0;
  private readonly subject: string;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly replicas: number,
  ) {
    this.subject = `gwc.riskitems.${stream}`;
    this.file = `nats stream ${stream}`;
  }

  async open(): Promise<ItemRecord[]> {
    const want = { name: this.stream, subjects: [this.subject], retention: RetentionPolicy.Limits, storage: StorageType.File, num_replicas: this.replicas };
    const exists = await this.jsm.streams.info(this.stream).then(() => true, () => false);
    if (!exists)
      await this.jsm.streams.add(want).catch(async (err) => {
        // another server created it a moment ago
        if (!(await this.jsm.streams.info(this.stream).then(() => true, () => false))) throw err;
      });
    this.skipped = 0;
    this.last = 0;
    return this.sync();
  }

  /** What was appended since the last read, in order (by this server or another). */
  async sync(): Promise<ItemRecord[]> {
    const info = await this.jsm.streams.info(this.stream);
    const out: ItemRecord[] = [];
    for (let seq = Math.max(this.last + 1, info.state.first_seq); seq <= info.state.last_seq; seq++) {
      try {
        const m = await this.jsm.streams.getMessage(this.stream, { seq });
        const records = JSON.parse(dec.decode(m.data)) as ItemRecord[];
        if (Array.isArray(records)) out.push(...records);
        else this.skipped++;
      } catch {
        this.skipped++;
      }
      this.last = seq;
    }
    return out;
  }

  /** Appends records as one message, refused (JournalConflict) when the stream moved on since the last read. */
  async append(records: readonly ItemRecord[]): Promise<void> {
    if (!records.length) return;
    try {
      const ack = await this.js.publish(this.subject, enc.encode(JSON.stringify(records)), { expect: { lastSequence: this.last, streamName: this.stream } });
      this.last = ack.seq;
    } catch (err) {
      if (/wrong last sequence/i.test(String((err as Error)?.message ?? err))) throw new JournalConflict();
      throw err;
    }
  }

  /** The stream is kept whole (nothing to compact). */
  async compact(): Promise<void> {}

  async close(): Promise<void> {}
}
