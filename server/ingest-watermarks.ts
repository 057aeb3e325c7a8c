/**
 * Each agent's durable watermark (server/watermark.ts SeqTracker): advanced
 * over the consecutive seqs of the batches the store has confirmed, in
 * order, and published when it moves.
 */
import type { WatermarkMessage } from '../contract/index.ts';
import type { RejectLog } from './reject-log.ts';
import { SeqTracker } from './watermark.ts';

/** What one stored message settles for its agent: its envelope, then its seqs. */
export interface Settled {
  agent: string;
  seqs: number[];
  from?: number;
  next?: number;
  skip?: [number, number][];
}

export class Watermarks {
  /** the watermark last published per agent */
  private readonly published = new Map<string, number>();
  /** what is handled per agent; rebuilt after a restart from the agents' `from` */
  private readonly trackers = new Map<string, SeqTracker>();

  constructor(
    private readonly rejectLog: RejectLog,
    private readonly publish: (msg: WatermarkMessage) => void,
    private readonly now: () => number,
  ) {}

  get(agent: string): number | undefined {
    return this.published.get(agent);
  }

  agents(): IterableIterator<string> {
    return this.published.keys();
  }

  /**
   * Advances each agent's watermark over the consecutive seqs this batch
   * completes: never past a seq the server has not handled, so one the
   * broker lost is resent, not forgotten.
   */
  settle(batch: readonly Settled[]): void {
    const touched = new Set<string>();
    let agent = '';
    let t: SeqTracker | undefined;
    for (const p of batch) {
      if (p.agent !== agent) {
        agent = p.agent;
        t = this.trackers.get(agent);
        touched.add(agent);
      }
      // the envelope first: it says where the agent's spool starts before its seqs count
      if (p.from !== undefined || p.next !== undefined || p.skip !== undefined) {
        if (t) {
          if (t.envelope(p.from, p.next) === 'restarted')
            this.rejectLog.warn('seq_restarted', 'agent seq went back below its watermark (a new spool?); its watermark starts again', () => ({ agent, from: p.from, next: p.next }));
        } else if (p.from !== undefined) this.trackers.set(agent, (t = new SeqTracker(p.from - 1)));
        if (t && p.skip) for (const [a, b] of p.skip) t.addRange(a, b);
      }
      for (let i = 0; i < p.seqs.length; i++) {
        const seq = p.seqs[i]!;
        if (t) t.add(seq);
        // an agent that does not say where its spool starts (`from`), first seen since this server started: its first seq is the start
        else this.trackers.set(agent, (t = new SeqTracker(seq)));
      }
    }
    for (const a of touched) {
      const seq = this.trackers.get(a)?.mark ?? -1;
      // lower than published only after a restart of the agent's seqs: its new spool needs it
      if (seq < 0 || seq === this.published.get(a)) continue;
      this.published.set(a, seq);
      this.publish({ agent: a, seq, at: this.now() });
    }
  }
}
