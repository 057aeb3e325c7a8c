/**
 * Bounds on password checks (scrypt: ~32 MB and tens of ms of CPU each).
 *
 * Per client address and user name: at most `maxFailures` checks per window.
 * An attempt is counted as soon as it starts (reserved), before its hash is
 * computed, so parallel requests cannot all pass the limit while the first
 * ones are still hashing; a success gives its reservation back and clears the
 * failures, a failure stays counted for the window.
 *
 * Server-wide: at most `concurrency` checks run at once and at most `queue`
 * wait for a turn; past that a login is refused as busy, whatever its name, so
 * a spray over many user names cannot exhaust CPU or memory.
 */

export interface LoginLimitOptions {
  maxFailures: number;
  windowS: number;
  /** password checks running at once, server-wide */
  concurrency: number;
  /** checks waiting for a turn; more are refused */
  queue: number;
}

/** Thrown by `check` when every slot is taken and the queue is full. */
export class LoginBusy extends Error {
  constructor() {
    super('too many logins at once');
  }
}

const MAX_KEYS = 10_000;

export class LoginLimiter {
  /** failed checks per key: their times, inside the window */
  private readonly failures = new Map<string, number[]>();
  /** checks started and not finished per key */
  private readonly inflight = new Map<string, number>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** password checks run since start (hashes computed) */
  checks = 0;
  /** the most checks that ran at once */
  peakRunning = 0;

  constructor(
    private readonly opts: LoginLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(key: string): number[] {
    const t = this.now();
    const list = (this.failures.get(key) ?? []).filter((x) => t - x < this.opts.windowS * 1000);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** Seconds until `key` may try again (0: it may), without reserving. */
  lockedFor(key: string): number {
    const recent = this.recent(key);
    if (recent.length + (this.inflight.get(key) ?? 0) < this.opts.maxFailures) return 0;
    // every slot of the window taken by checks still running: try again once they are done
    if (recent.length === 0) return 1;
    return Math.max(1, Math.ceil((recent[0]! + this.opts.windowS * 1000 - this.now()) / 1000));
  }

  /** Reserves an attempt for `key`: 0 when reserved, else seconds to wait (nothing reserved). */
  reserve(key: string): number {
    const wait = this.lockedFor(key);
    if (wait > 0) return wait;
    this.inflight.set(key, (this.inflight.get(key) ?? 0) + 1);
    return 0;
  }

  /** Ends a reserved attempt: a failure stays counted for the window, a success clears the key's failures. */
  release(key: string, outcome: 'failed' | 'succeeded' | 'not_checked'): void {
    const n = (this.inflight.get(key) ?? 1) - 1;
    if (n > 0) this.inflight.set(key, n);
    else this.inflight.delete(key);
    if (outcome === 'succeeded') this.failures.delete(key);
    if (outcome !== 'failed') return;
    if (this.failures.size >= MAX_KEYS) this.prune();
    this.failures.set(key, [...(this.failures.get(key) ?? []), this.now()]);
  }

  /** Runs one password check in a server-wide slot; throws LoginBusy when none is free and the queue is full. */
  async check<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.opts.concurrency) {
      if (this.waiting.length >= this.opts.queue) throw new LoginBusy();
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    // a slot is ours (handed over by the check that finished, or taken above)
    this.peakRunning = Math.max(this.peakRunning, this.running);
    this.checks++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Drops keys whose failures are all outside the window. */
  private prune(): void {
    for (const key of [...this.failures.keys()]) this.recent(key);
  }
}
