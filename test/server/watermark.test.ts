/**
 * The contiguous-seq watermark (server/watermark.ts) under hostile orderings:
 * duplicates, out of order, huge gaps, seqs going backwards after an agent
 * reset, and more holes than it keeps ranges for. A plain set of every seq
 * is the model it must agree with.
 */
import { describe, expect, it } from 'vitest';
import { SeqTracker } from '../../server/watermark.ts';
import { prng as rng } from '../rules/helpers.ts';

/** The highest m with every seq in (start, m] in `seen`. */
function modelMark(start: number, seen: ReadonlySet<number>): number {
  let m = start;
  while (seen.has(m + 1)) m++;
  return m;
}

describe('SeqTracker', () => {
  it('in order it is a counter', () => {
    const t = new SeqTracker(-1);
    for (let s = 0; s < 1000; s++) expect(t.add(s)).toBe(true);
    expect(t.mark).toBe(999);
    expect(t.rangeCount).toBe(0);
  });

  it('holds below a hole however much is handled above it, and passes both once the hole is filled', () => {
    const t = new SeqTracker(99);
    for (let s = 100; s <= 104; s++) t.add(s);
    for (let s = 108; s <= 500; s++) expect(t.add(s)).toBe(false);
    expect(t.mark).toBe(104);
    expect(t.rangeCount).toBe(1);
    t.add(106);
    t.add(105);
    expect(t.mark).toBe(106);
    expect(t.add(107)).toBe(true);
    expect(t.mark).toBe(500);
    expect(t.rangeCount).toBe(0);
  });

  it('ignores duplicates and redeliveries, below and above the mark', () => {
    const t = new SeqTracker(-1);
    for (const s of [0, 0, 1, 1, 0, 5, 5, 5, 3, 3, 2]) t.add(s);
    expect(t.mark).toBe(3);
    t.add(4);
    expect(t.mark).toBe(5);
    expect(t.rangeCount).toBe(0);
  });

  it('agrees with a set of every seq under random orderings with duplicates', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rand = rng(seed);
      const n = 2000;
      const seqs: number[] = [];
      for (let s = 0; s < n; s++) {
        seqs.push(s);
        if (rand() < 0.2) seqs.push(s); // a duplicate
      }
      // shuffle locally (windows of up to 64): how batches complete out of order
      for (let i = seqs.length - 1; i > 0; i--) {
        const j = Math.max(0, i - Math.floor(rand() * 64));
        [seqs[i], seqs[j]] = [seqs[j]!, seqs[i]!];
      }
      // and drop a few for good, as a broker would
      const lost = new Set(Array.from({ length: 3 }, () => Math.floor(rand() * n)));
      const t = new SeqTracker(-1);
      const seen = new Set<number>();
      let model = -1;
      for (const s of seqs) {
        if (lost.has(s)) continue;
        t.add(s);
        seen.add(s);
        model = modelMark(model, seen);
        expect(t.mark).toBe(model);
      }
      expect(t.mark).toBe(Math.min(...lost) - 1);
      for (const s of lost) t.add(s);
      expect(t.mark, `seed ${seed}`).toBe(n - 1);
      expect(t.rangeCount).toBe(0);
    }
  });

  it('takes huge gaps in its stride (seqs are epoch ms × 1000)', () => {
    const base = 1_767_225_600_000_000;
    const t = new SeqTracker(base - 1);
    t.add(base);
    t.add(base + 1e12);
    t.add(Number.MAX_SAFE_INTEGER);
    expect(t.mark).toBe(base);
    expect(t.rangeCount).toBe(2);
    // the agent says everything below base + 1e12 is settled (its quota dropped it)
    expect(t.envelope(base + 1e12, base + 1e12 + 5)).toBe('advanced');
    expect(t.mark).toBe(base + 1e12);
    expect(t.rangeCount).toBe(1);
  });

  it('jumps to what the agent settled (from), merging the ranges it reaches, and never moves back for it', () => {
    const t = new SeqTracker(9);
    for (const s of [20, 21, 22, 30]) t.add(s);
    expect(t.envelope(15, 40)).toBe('advanced');
    expect(t.mark).toBe(14);
    expect(t.envelope(20, 40)).toBe('advanced');
    expect(t.mark).toBe(22); // 20..22 were handled already
    expect(t.envelope(5, 40)).toBe('none'); // an older message: from only ever settles more
    expect(t.mark).toBe(22);
    expect(t.envelope(undefined, 40)).toBe('none');
    expect(t.envelope(31, 40)).toBe('advanced');
    expect(t.mark).toBe(30);
  });

  it('takes ranges the agent will never send (skip): at the mark it moves, above it they wait like any seq', () => {
    const t = new SeqTracker(9);
    expect(t.addRange(15, 17)).toBe(false);
    expect(t.addRange(3, 8)).toBe(false); // all below the mark
    for (const s of [10, 11, 12]) t.add(s);
    expect(t.mark).toBe(12);
    expect(t.addRange(13, 14)).toBe(true);
    expect(t.mark).toBe(17);
    expect(t.addRange(10, 20)).toBe(true); // overlapping the mark
    expect(t.mark).toBe(20);
    expect(t.rangeCount).toBe(0);
  });

  it('starts again when the agent seq goes backwards (a new spool, a clock set back)', () => {
    const t = new SeqTracker(-1);
    for (let s = 0; s <= 1000; s++) t.add(s);
    t.add(2000);
    // the agent's next seq is at or below the watermark: not the life that earned it
    expect(t.envelope(0, 10)).toBe('restarted');
    expect(t.mark).toBe(-1);
    expect(t.rangeCount).toBe(0);
    for (let s = 0; s < 10; s++) t.add(s);
    expect(t.mark).toBe(9);
    // the same life again: next above the mark, nothing restarts
    expect(t.envelope(0, 10)).toBe('none');
    expect(t.mark).toBe(9);
    // a reset with a spool that already starts higher
    expect(t.envelope(4, 6)).toBe('restarted');
    expect(t.mark).toBe(3);
  });

  it('keeps at most maxRanges ranges: the highest go, the watermark is never wrong', () => {
    const t = new SeqTracker(0, 8);
    // every other seq: the most ranges an ordering can make
    for (let s = 100; s > 0; s -= 2) t.add(s);
    expect(t.rangeCount).toBe(8);
    for (let s = 1; s <= 100; s += 2) t.add(s);
    // 2..16 were kept (the lowest 8 ranges), so the mark passes them; the rest must be sent again
    expect(t.mark).toBe(17);
    for (let s = 18; s <= 100; s++) t.add(s);
    expect(t.mark).toBe(100);
  });
});
