/**
 * The spool contract: one suite every Spool
 * implementation must pass. Persistence cases run when the harness can
 * reopen the same medium.
 */
import { describe, expect, it } from 'vitest';
import type { Reading } from '../../contract/index.ts';
import type { Spool, UnsequencedReading } from '../../edge-agent/index.ts';

export interface SpoolHarness {
  /** a new spool on an empty medium, not yet opened */
  create(opts: { maxBytes: number; initialSeq: number }): Spool;
  /** a new instance on the medium of `old` (which has been closed, or abandoned as by a crash) */
  reopen?: (old: Spool) => Spool;
}

const T0 = Date.UTC(2026, 0, 7, 4, 0, 0);
const reading = (i: number, device = `m${i % 7}`): UnsequencedReading =>
  i % 11 === 5 ? { device, ts: T0 + i * 1000, v: {}, q: 'comm_loss' } : { device, ts: T0 + i * 1000, v: { ua: 220 + (i % 100) / 10, ia: i % 500, p: -3.5 + i }, q: 'good' };

/** Everything unacknowledged, from the start, in pages. */
function readAll(s: Spool, page = 7): Reading[] {
  const out: Reading[] = [];
  let from = 0;
  for (;;) {
    const got = s.read(from, page);
    if (got.length === 0) return out;
    expect(got.length).toBeLessThanOrEqual(page);
    out.push(...got);
    from = got.at(-1)!.seq + 1;
  }
}

export function spoolContract(name: string, h: SpoolHarness): void {
  describe(`spool contract: ${name}`, () => {
    it('numbers readings contiguously from the initial seq and gives back exactly what was appended, in order', () => {
      const s = h.create({ maxBytes: 1 << 20, initialSeq: 1000 });
      s.open();
      expect(s.nextSeq).toBe(1000);
      expect(s.firstSeq).toBe(1000);
      expect(s.acked).toBe(999);
      const appended = Array.from({ length: 50 }, (_, i) => s.append(reading(i)));
      expect(appended.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + i));
      expect(appended[3]).toEqual({ ...reading(3), seq: 1003 });
      s.flush();
      expect(readAll(s)).toEqual(appended);
      expect(s.read(1010, 3).map((r) => r.seq)).toEqual([1010, 1011, 1012]);
      expect(s.read(1050, 10)).toEqual([]);
      expect(s.read(0, 0)).toEqual([]);
      expect(s.stats()).toMatchObject({ firstSeq: 1000, nextSeq: 1050, unacked: 50, appended: 50, lost: 0 });
      s.close();
      s.close(); // idempotent
    });

    it('readEncoded gives the same readings as read: each as its JSON, with its seq and ts, in pages', () => {
      const s = h.create({ maxBytes: 1 << 20, initialSeq: 50 });
      s.open();
      const appended = Array.from({ length: 60 }, (_, i) => s.append(i % 4 === 0 ? { ...reading(i), late: true } : reading(i)));
      s.flush();
      s.ack(59);
      const seqs: number[] = [];
      const ts: number[] = [];
      const json: string[] = [];
      for (let from = 0; ; ) {
        const page = s.readEncoded(from, 9);
        expect(page.seqs.length).toBeLessThanOrEqual(9);
        expect(page.ts.length).toBe(page.seqs.length);
        expect(page.json.length).toBe(page.seqs.length);
        if (page.seqs.length === 0) break;
        seqs.push(...page.seqs);
        ts.push(...page.ts);
        json.push(...page.json);
        from = page.seqs.at(-1)! + 1;
      }
      const held = appended.filter((r) => r.seq > 59);
      expect(seqs).toEqual(held.map((r) => r.seq));
      expect(ts).toEqual(held.map((r) => r.ts));
      expect(json.map((l) => JSON.parse(l) as unknown)).toEqual(held);
      expect(json.map((l) => JSON.parse(l) as unknown)).toEqual(readAll(s));
      // no newline inside, `late` last when present: the uplink puts them in its message as they are
      expect(json.every((l) => !l.includes('\n'))).toBe(true);
      expect(json.filter((l) => l.endsWith(',"late":true}')).length).toBe(held.filter((r) => r.late).length);
      s.close();
    });

    it('forgets what is acknowledged and never gives it back; lower acks are ignored, acks past the end are clamped', () => {
      const s = h.create({ maxBytes: 1 << 20, initialSeq: 0 });
      s.open();
      for (let i = 0; i < 40; i++) s.append(reading(i));
      s.ack(14);
      expect(s.acked).toBe(14);
      expect(s.firstSeq).toBe(15);
      expect(s.read(0, 100).map((r) => r.seq)).toEqual(Array.from({ length: 25 }, (_, i) => 15 + i));
      s.ack(3);
      expect(s.acked).toBe(14);
      s.ack(10_000);
      expect(s.acked).toBe(39);
      expect(s.firstSeq).toBe(40);
      expect(s.read(0, 100)).toEqual([]);
      expect(s.stats()).toMatchObject({ unacked: 0, lost: 0 });
      // numbering goes on after everything was acknowledged
      expect(s.append(reading(40)).seq).toBe(40);
      expect(s.read(0, 10).map((r) => r.seq)).toEqual([40]);
      s.close();
    });

    it('over the quota, the oldest unacknowledged readings go, exactly counted and reported once, and what is held stays contiguous', () => {
      const maxBytes = 64 * 1024;
      const s = h.create({ maxBytes, initialSeq: 500 });
      s.open();
      const n = 3000; // ~100 bytes each: several times the quota
      for (let i = 0; i < n; i++) {
        s.append(reading(i));
        expect(s.stats().bytes).toBeLessThanOrEqual(maxBytes);
      }
      s.flush();
      const losses = s.takeLosses();
      expect(s.takeLosses()).toEqual([]); // reported once
      expect(losses.length).toBeGreaterThan(0);
      const lost = losses.reduce((k, l) => k + l.readings, 0);
      const st = s.stats();
      expect(st.lost).toBe(lost);
      // every reading is either held or counted lost: none vanishes uncounted
      expect(lost + st.unacked).toBe(n);
      // the losses are the oldest, in order, back to back, and what is held follows them
      let expectFrom = 500;
      for (const l of losses) {
        expect(l.fromSeq).toBe(expectFrom);
        expect(l.readings).toBe(l.toSeq - l.fromSeq + 1);
        expectFrom = l.toSeq + 1;
      }
      expect(s.firstSeq).toBe(expectFrom);
      const held = readAll(s, 1000);
      expect(held.map((r) => r.seq)).toEqual(Array.from({ length: held.length }, (_, i) => expectFrom + i));
      expect(held.at(-1)).toEqual({ ...reading(n - 1), seq: 500 + n - 1 });
      expect(losses[0]!.fromTs).toBe(reading(0).ts);
      s.close();
    });

    it('readings already acknowledged that the quota pushes out are not counted as lost', () => {
      const maxBytes = 64 * 1024;
      const s = h.create({ maxBytes, initialSeq: 0 });
      s.open();
      for (let i = 0; i < 400; i++) s.append(reading(i)); // well under the quota
      s.ack(399);
      for (let i = 400; i < 900; i++) s.append(reading(i)); // still under: acked ones made room
      expect(s.takeLosses()).toEqual([]);
      expect(s.stats().lost).toBe(0);
      for (let i = 900; i < 3000; i++) s.append(reading(i));
      const lost = s.takeLosses().reduce((k, l) => k + l.readings, 0);
      expect(lost).toBe(s.stats().lost);
      expect(lost + s.stats().unacked).toBe(3000 - 400);
      s.close();
    });

    if (h.reopen) {
      const reopen = h.reopen;
      it('a reopened spool continues the seq counter and still holds every unacknowledged reading', () => {
        const s = h.create({ maxBytes: 1 << 20, initialSeq: 7_000 });
        s.open();
        const appended = Array.from({ length: 120 }, (_, i) => s.append(reading(i)));
        s.ack(7_029);
        s.close();
        const again = reopen(s);
        again.open();
        expect(again.nextSeq).toBe(7_120);
        expect(again.acked).toBe(7_029);
        expect(readAll(again)).toEqual(appended.slice(30));
        expect(again.append(reading(120)).seq).toBe(7_120);
        again.close();
      });

      it('a spool abandoned without close (a crash) keeps every flushed reading; an unsaved ack only means they are sent again', () => {
        const s = h.create({ maxBytes: 1 << 20, initialSeq: 0 });
        s.open();
        const appended = Array.from({ length: 60 }, (_, i) => s.append(reading(i)));
        s.flush();
        s.ack(9); // may not have reached the medium
        // no close(): the process is gone
        const again = reopen(s);
        again.open();
        expect(again.nextSeq).toBe(60);
        expect(again.acked).toBeLessThanOrEqual(9);
        const held = readAll(again);
        expect(held.at(-1)).toEqual(appended.at(-1));
        expect(held[0]!.seq).toBe(again.acked + 1);
        expect(held).toEqual(appended.slice(again.acked + 1));
        again.close();
        s.close(); // release the abandoned instance's handles (the test process lives on)
      });
    }
  });
}
