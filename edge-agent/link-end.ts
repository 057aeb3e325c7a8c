import type { ModbusError } from './errors.ts';

/**
 * The end of a link, told to the request on the wire at that moment. Not a
 * promise raced against each request: a link lives for weeks, and every
 * `Promise.race` with a promise that stays pending leaves a reaction on it
 * holding the request's reply (about 1 kB a read) until the link closes.
 */
export class LinkEnd {
  private readonly waiting = new Set<(err: ModbusError) => void>();
  private error: ModbusError | null = null;

  end(err: ModbusError): void {
    if (this.error) return;
    this.error = err;
    for (const w of this.waiting) w(err);
    this.waiting.clear();
  }

  /** `op`'s result, or a rejection with the link's end if that comes first */
  race<T>(op: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.error) {
        op.catch(() => undefined);
        reject(this.error);
        return;
      }
      this.waiting.add(reject);
      op.then(
        (v) => {
          this.waiting.delete(reject);
          resolve(v);
        },
        (e: unknown) => {
          this.waiting.delete(reject);
          reject(e);
        },
      );
    });
  }
}
