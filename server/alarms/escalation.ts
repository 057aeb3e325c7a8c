/**
 * Escalation webhook: an alarm left unacknowledged longer than its
 * severity allows is POSTed as JSON to a configured URL — the usual way to
 * reach an SMS or paging gateway. Retried with backoff; a 4xx other than 408
 * and 429 is final (the receiver rejected the request itself).
 */
export interface WebhookOptions {
  url: string;
  /** attempts in all, the first included */
  attempts: number;
  /** wait before the 2nd attempt; doubles each time */
  retryDelayMs: number;
  timeoutMs: number;
}

export interface WebhookResult {
  delivered: boolean;
  attempts: number;
  status?: number;
  error?: string;
}

/** The URL as journaled and logged: no user info, no query (either may carry a key). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

export async function postWebhook(
  body: unknown,
  opts: WebhookOptions,
  shouldContinue: () => boolean = () => true,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<WebhookResult> {
  const text = JSON.stringify(body);
  let delay = opts.retryDelayMs;
  let last: WebhookResult = { delivered: false, attempts: 0 };
  for (let i = 1; i <= opts.attempts; i++) {
    if (i > 1) {
      await sleep(delay);
      delay *= 2;
      if (!shouldContinue()) return { ...last, error: `${last.error ?? 'not delivered'}; retries stopped` };
    }
    try {
      const res = await fetch(opts.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'gridwatch-alarms' },
        body: text,
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { delivered: true, attempts: i, status: res.status };
      last = { delivered: false, attempts: i, status: res.status, error: `HTTP ${res.status}` };
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) return last;
    } catch (e) {
      last = { delivered: false, attempts: i, error: (e as Error).message };
    }
  }
  return last;
}
