/**
 * One timer for the polls of every device: a min-heap of what is due next,
 * by monotonic time (performance.now), and a single timer armed for the
 * earliest. A thousand meters polled every second with a timer each would
 * make a thousand timer objects and closures a second, each living until it
 * fires: on a gateway with a small young generation that garbage outlives
 * the scavenges and is promoted to the old generation, which is what makes
 * the agent's resident memory swing. Here a poll costs no allocation to
 * schedule.
 *
 * Whatever is due within `EARLY_MS` of now runs in the same turn: a timer
 * fires on libuv's loop time, which can lag performance.now by under a
 * millisecond, and re-arming for a remainder that small would only spin.
 */

/** What the schedule runs: `due` is set by the owner before `add`; `slot` belongs to the schedule (-1 when not queued). */
export interface Scheduled {
  due: number;
  slot: number;
  fire(): void;
}

const EARLY_MS = 1;

export class PollSchedule {
  private readonly heap: Scheduled[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** the due time the timer is armed for */
  private armedFor = Infinity;
  private readonly onTimer = (): void => this.runDue();

  /** how many are queued */
  get size(): number {
    return this.heap.length;
  }

  /** Queues `s` at `s.due`; one already queued is moved to its new due time. */
  add(s: Scheduled): void {
    if (s.slot >= 0) this.removeAt(s.slot);
    s.slot = this.heap.length;
    this.heap.push(s);
    this.up(s.slot);
    this.arm();
  }

  /** Takes `s` out of the queue; nothing when it is not queued. */
  remove(s: Scheduled): void {
    if (s.slot < 0) return;
    this.removeAt(s.slot);
    this.arm();
  }

  private runDue(): void {
    this.timer = null;
    this.armedFor = Infinity;
    const limit = performance.now() + EARLY_MS;
    // what a fire() queues again is due one period later: it is not run in this turn
    while (this.heap.length > 0 && this.heap[0]!.due <= limit) {
      const s = this.heap[0]!;
      this.removeAt(0);
      s.fire();
    }
    this.arm();
  }

  private arm(): void {
    const first = this.heap[0];
    if (!first) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.armedFor = Infinity;
      return;
    }
    if (this.timer && this.armedFor <= first.due) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = first.due;
    this.timer = setTimeout(this.onTimer, Math.max(0, first.due - performance.now()));
  }

  private removeAt(i: number): void {
    const h = this.heap;
    const gone = h[i]!;
    gone.slot = -1;
    const last = h.pop()!;
    if (i === h.length) return;
    h[i] = last;
    last.slot = i;
    this.down(i);
    this.up(last.slot);
  }

  private up(i: number): void {
    const h = this.heap;
    const s = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (parent.due <= s.due) break;
      h[i] = parent;
      parent.slot = i;
      i = p;
    }
    h[i] = s;
    s.slot = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const s = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.due < h[l]!.due ? r : l;
      const child = h[c]!;
      if (child.due >= s.due) break;
      h[i] = child;
      child.slot = i;
      i = c;
    }
    h[i] = s;
    s.slot = i;
  }
}

/** The schedule the agent's pollers share unless given their own. */
export const sharedPollSchedule = new PollSchedule();
