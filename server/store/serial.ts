/**
 * One operation at a time, in call order: what a DuckDB connection needs for
 * its writes (one transaction at a time on a connection; the store's staging
 * table is shared), and what the alarm service needs for rules changes (each
 * starts from the document the previous one left). A failed operation
 * rejects its own promise and does not stop the ones queued after it.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every operation queued before it has settled. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves once every operation queued so far has settled (reads wait for writes with it). */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
