/**
 * Warnings about refused input, rate-limited per kind: the first one of a
 * quiet period is written at once with its details; the rest of the interval
 * are only counted and summed up in one line when it ends ("suppressed").
 * Hostile traffic costs at most two lines per kind and interval, whatever its
 * rate (every refusal is still counted in the metrics).
 */
import type { Logger } from 'pino';

interface Window {
  /** refusals after the first one in this interval, not written */
  suppressed: number;
  timer: NodeJS.Timeout | null;
  level: 'warn' | 'error';
}

export class RejectLog {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  /**
   * A refusal of `kind` (a fixed reason, never text from the input): written
   * now when it is the first in its interval, else counted. `details` is
   * called only when the line is written.
   */
  warn(kind: string, msg: string, details: () => Record<string, unknown>): void {
    this.note('warn', kind, msg, details);
  }

  /** As `warn`, for faults of our own (a handler or listener that threw), at level error. */
  error(kind: string, msg: string, details: () => Record<string, unknown>): void {
    this.note('error', kind, msg, details);
  }

  private note(level: 'warn' | 'error', kind: string, msg: string, details: () => Record<string, unknown>): void {
    let w = this.windows.get(kind);
    if (w?.timer) {
      w.suppressed++;
      return;
    }
    if (!w) this.windows.set(kind, (w = { suppressed: 0, timer: null, level }));
    this.log[level]({ reason: kind, ...details() }, msg);
    this.arm(kind, w, msg);
  }

  private arm(kind: string, w: Window, msg: string): void {
    w.timer = setTimeout(() => {
      w.timer = null;
      if (w.suppressed === 0) return;
      this.log[w.level]({ reason: kind, suppressed: w.suppressed, intervalMs: this.intervalMs }, `${msg} (${w.suppressed} more in the last ${this.intervalMs / 1000} s)`);
      w.suppressed = 0;
      // a summary opens a new interval: a steady flood gives one line per interval
      this.arm(kind, w, msg);
    }, this.intervalMs);
    w.timer.unref();
  }

  /** Writes what is counted and not yet written (at stop). */
  flush(): void {
    for (const [kind, w] of this.windows) {
      if (w.timer) clearTimeout(w.timer);
      w.timer = null;
      if (w.suppressed > 0) this.log[w.level]({ reason: kind, suppressed: w.suppressed }, `${w.suppressed} more of this kind not logged one by one`);
      w.suppressed = 0;
    }
  }
}
