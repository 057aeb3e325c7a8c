/**
 * An agent's durable watermark over consecutive seqs (docs/contract.md,
 * Watermark). The agent forgets every spooled reading at or
 * below the watermark, so it may only cover seqs that are each handled:
 * stored, rejected by validation (counted; sending it again would not help),
 * or settled by the agent itself (below the `from` of its messages: already
 * acknowledged, or dropped by its spool quota and counted in
 * `lost_readings`; or in a message's `skip`: unreadable from its spool). A seq the broker lost holds the watermark however many
 * later ones are stored; the agent resends from it (on reconnect, on a
 * server's `online`, or when the watermark stalls).
 *
 * Seqs handled above the first hole (out of order, or after a loss) are kept
 * as ranges, not one by one, and at most `maxRanges` of them: past that the
 * highest go, which only means those readings are stored again when resent.
 * In order — the common case — `add` is a compare and an increment.
 *
 * Pure: no I/O, no clock.
 */

/** Ranges of handled seqs above the watermark kept per agent. */
export const DEFAULT_MAX_RANGES = 1024;

export type EnvelopeEffect = 'none' | 'advanced' | 'restarted';

export class SeqTracker {
  private m: number;
  /** handled seqs above m + 1: disjoint, ascending, not touching: [start0, end0, start1, end1, …] */
  private readonly r: number[] = [];

  /** `mark`: every seq ≤ it is already handled (−1: none) */
  constructor(
    mark: number,
    private readonly maxRanges = DEFAULT_MAX_RANGES,
  ) {
    this.m = mark;
  }

  /** every seq ≤ this is handled */
  get mark(): number {
    return this.m;
  }

  /** ranges of handled seqs held above the first hole */
  get rangeCount(): number {
    return this.r.length / 2;
  }

  /** One handled seq. True when the watermark moved. */
  add(seq: number): boolean {
    if (seq === this.m + 1) {
      this.m = seq;
      if (this.r.length > 0 && this.r[0] === seq + 1) this.absorb();
      return true;
    }
    if (seq <= this.m) return false; // a duplicate, or a redelivery of what is handled
    this.insert(seq, seq);
    return false;
  }

  /**
   * The envelope of a message: `from` (every seq below it is settled by the
   * agent) and `next` (the agent's next seq). A watermark at or above `next`
   * is one the agent cannot have earned in its present life — its spool was
   * replaced, or its seq went backwards — so the agent's watermark starts
   * again below `from` (or `next`). Within one life the watermark never
   * passes `next − 1`: it covers only seqs the agent has sent.
   */
  envelope(from: number | undefined, next: number | undefined): EnvelopeEffect {
    if (next !== undefined && this.m >= next) {
      this.m = (from ?? next) - 1;
      this.r.length = 0;
      return 'restarted';
    }
    if (from === undefined || from - 1 <= this.m) return 'none';
    this.raiseTo(from - 1);
    return 'advanced';
  }

  /** Seqs a..b (inclusive) are handled, e.g. ones the agent says it will never send. True when the watermark moved. */
  addRange(a: number, b: number): boolean {
    if (b <= this.m) return false;
    if (a <= this.m + 1) {
      this.raiseTo(b);
      return true;
    }
    this.insert(a, b);
    return false;
  }

  private raiseTo(mark: number): void {
    this.m = mark;
    // ranges at or below the new mark are covered; one that touches it extends it
    let i = 0;
    while (i < this.r.length && this.r[i + 1]! <= this.m) i += 2;
    if (i > 0) this.r.splice(0, i);
    if (this.r.length > 0 && this.r[0]! <= this.m + 1) this.absorb();
  }

  /** The first range starts at or below m + 1: the watermark runs to its end. */
  private absorb(): void {
    this.m = Math.max(this.m, this.r[1]!);
    this.r.splice(0, 2);
  }

  /** Adds [a, b] (a > m + 1) to the ranges, merging what it overlaps or touches. */
  private insert(a: number, b: number): void {
    const r = this.r;
    // first range whose end reaches a − 1 (touching counts): binary search over the pairs
    let lo = 0;
    let hi = r.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r[mid * 2 + 1]! < a - 1) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    let start = a;
    let end = b;
    while (j < r.length / 2 && r[j * 2]! <= b + 1) {
      start = Math.min(start, r[j * 2]!);
      end = Math.max(end, r[j * 2 + 1]!);
      j++;
    }
    if (j === lo + 1) {
      // grows (or is inside) one range: in place, no allocation — the common out-of-order case
      r[lo * 2] = start;
      r[lo * 2 + 1] = end;
      return;
    }
    r.splice(lo * 2, (j - lo) * 2, start, end);
    // bounded memory: the highest ranges go (resent later, stored again)
    if (r.length > this.maxRanges * 2) r.length = this.maxRanges * 2;
  }
}
