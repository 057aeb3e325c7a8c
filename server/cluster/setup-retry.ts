/**
 * JetStream set-up at a server's start (streams, KV buckets, the sequence
 * slot), asked again while the NATS cluster does not answer: servers started
 * together with their NATS nodes (a compose file, a machine's boot) find
 * JetStream still electing its leaders, and its API requests time out or
 * answer 503 for some seconds. Any other error (a stream configured
 * otherwise, a refused permission) is thrown at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

/** longest a set-up step is asked again, ms */
export const SETUP_RETRY_MS = 60_000;

/** no answer from JetStream (a request timed out, no responders, JetStream not ready), as opposed to a refusal */
export function noAnswer(err: unknown): boolean {
  const code = String((err as { code?: unknown })?.code ?? '');
  if (code === 'TIMEOUT' || code === '503') return true;
  return /timeout|no responders|jetstream not (enabled|available)|temporarily unavailable/i.test(String((err as Error)?.message ?? err));
}

/** `step()` until it answers; on no answer again after 0.25, 0.5 … 4 s, for at most `limitMs`. */
export async function untilAnswered<T>(what: string, step: () => Promise<T>, log: Logger, limitMs = SETUP_RETRY_MS): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 4000)) {
    try {
      return await step();
    } catch (err) {
      if (!noAnswer(err) || Date.now() + delay > deadline) throw err;
      log.warn({ err: String((err as Error)?.message ?? err), step: what, retryInMs: delay }, 'the NATS cluster did not answer at start; asked again');
      await sleep(delay);
    }
  }
}
