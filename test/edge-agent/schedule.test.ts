/**
 * The poll schedule every device shares: one timer for all of them, each
 * run at its own due time, in due order, moved or taken out at any time.
 */
import { describe, expect, it } from 'vitest';
import { PollSchedule, type Scheduled } from '../../edge-agent/schedule.ts';

function entry(name: string, runs: string[], onFire?: (s: Scheduled) => void): Scheduled & { name: string } {
  const s = {
    name,
    due: 0,
    slot: -1,
    fire() {
      runs.push(name);
      onFire?.(s);
    },
  };
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PollSchedule', () => {
  it('runs each entry at its due time, in due order, whatever the order they were added', async () => {
    const sched = new PollSchedule();
    const runs: string[] = [];
    const t0 = performance.now();
    const firedAt = new Map<string, number>();
    const dues = { a: 60, b: 20, c: 40, d: 20.5, e: 80 };
    for (const [name, d] of Object.entries(dues)) {
      const s = entry(name, runs, () => firedAt.set(name, performance.now() - t0));
      s.due = t0 + d;
      sched.add(s);
    }
    expect(sched.size).toBe(5);
    await sleep(150);
    expect(runs).toEqual(['b', 'd', 'c', 'a', 'e']);
    // never before its due time (the schedule may run a millisecond early: libuv's loop clock)
    for (const [name, d] of Object.entries(dues)) expect(firedAt.get(name)!).toBeGreaterThanOrEqual(d - 1);
    expect(sched.size).toBe(0);
  });

  it('an entry queued again from its own fire() runs at its next due time, not in the same turn', async () => {
    const sched = new PollSchedule();
    const runs: string[] = [];
    let n = 0;
    const s = entry('p', runs, (me) => {
      if (++n < 4) {
        me.due += 15;
        sched.add(me);
      }
    });
    const t0 = performance.now();
    s.due = t0 + 5;
    sched.add(s);
    await sleep(2);
    expect(runs).toEqual([]);
    await sleep(120);
    expect(runs).toEqual(['p', 'p', 'p', 'p']);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(5 + 3 * 15 - 1);
  });

  it('an entry removed does not run; one added again moves to its new due time', async () => {
    const sched = new PollSchedule();
    const runs: string[] = [];
    const t0 = performance.now();
    const all = Array.from({ length: 50 }, (_, i) => {
      const s = entry(`e${i}`, runs);
      s.due = t0 + 10 + i;
      sched.add(s);
      return s;
    });
    // take out every third, move e1 to the end
    for (let i = 0; i < all.length; i += 3) sched.remove(all[i]!);
    sched.remove(all[0]!); // twice: nothing
    all[1]!.due = t0 + 200;
    sched.add(all[1]!);
    expect(sched.size).toBe(50 - 17);
    await sleep(300);
    const expected = all.filter((_, i) => i % 3 !== 0 && i !== 1).map((s) => s.name);
    expect(runs).toEqual([...expected, 'e1']);
    expect(all.every((s) => s.slot === -1)).toBe(true);
  });

  it('keeps the heap ordered through random adds, moves and removes', () => {
    const sched = new PollSchedule();
    const live = new Set<Scheduled>();
    const far = performance.now() + 3_600_000;
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pool = Array.from({ length: 200 }, (_, i) => entry(`r${i}`, []));
    for (let step = 0; step < 5000; step++) {
      const s = pool[Math.floor(rnd() * pool.length)]!;
      if (rnd() < 0.3) {
        sched.remove(s);
        live.delete(s);
      } else {
        s.due = far + rnd() * 1000;
        sched.add(s);
        live.add(s);
      }
    }
    expect(sched.size).toBe(live.size);
    // the heap property over the slots the schedule gave out
    const bySlot = [...live].sort((a, b) => a.slot - b.slot);
    bySlot.forEach((s, i) => expect(s.slot).toBe(i));
    for (let i = 1; i < bySlot.length; i++) expect(bySlot[(i - 1) >> 1]!.due).toBeLessThanOrEqual(bySlot[i]!.due);
    for (const s of live) sched.remove(s);
    expect(sched.size).toBe(0);
  });
});
