/**
 * Escalation webhook: an alarm left unacknowledged longer than its
 * severity allows is POSTed as JSON to a configured URL — the usual way to
 * reach an SMS or paging gateway. Retried with backoff; a 4xx other than 408
 * and 429 is final (the receiver rejected the request itself). Escalator:
 * which alarms are due, for the alarm service.
 */
import type { Logger } from 'pino';
import { escalationDue, severityName, type Alarm, type Severity } from '../rules/index.ts';
import type { EscalationEntry } from './journal.ts';
import type { AlarmFrame, AlarmView, EscalationOptions } from './service-types.ts';

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

// ---------------------------------------------------------------- the service's escalation (service.ts)

/** What the escalation needs of the alarm service. */
export interface EscalationHost {
  options: EscalationOptions;
  alarms: ReadonlyMap<string, Alarm>;
  log: Logger;
  running(): boolean;
  clock(): number;
  view(a: Alarm): AlarmView;
  nextSeq(): number;
  /** queued for the journal (and the resume buffer) */
  enqueue(e: EscalationEntry): void;
  push(frame: AlarmFrame): void;
  /** whether this server escalates the alarm (cluster mode: the owner of its partition); absent: every alarm */
  escalates?(a: Alarm): boolean;
}

/**
 * Unacknowledged alarms past their severity's limit, each annunciation
 * POSTed once to the webhook; the outcome journaled and pushed. An attempt
 * cut short by shutdown is not journaled, so the next start sends it again.
 */
export class Escalator {
  /** alarmId → `since` of the annunciation last escalated, and when */
  readonly escalated = new Map<string, { since: number; at: number }>();
  private readonly escalating = new Set<Promise<void>>();

  constructor(private readonly h: EscalationHost) {}

  /** An escalation entry, live or read back from the journal. */
  track(e: EscalationEntry): void {
    this.escalated.set(e.alarmId, { since: e.since, at: e.at });
  }

  /** Waits for running escalations, at most their timeout and a second more. */
  async settle(): Promise<void> {
    await Promise.race([Promise.allSettled([...this.escalating]), new Promise((r) => setTimeout(r, this.h.options.timeoutMs + 1000))]);
  }

  private maxUnackMs(): Partial<Record<Severity, number>> {
    const out: Partial<Record<Severity, number>> = {};
    const afterS = this.h.options.afterS;
    ([1, 2, 3, 4] as const).forEach((s) => {
      const v = afterS[severityName(s)];
      if (v > 0) out[s] = v * 1000;
    });
    return out;
  }

  escalate(now: number): void {
    const url = this.h.options.webhookUrl;
    if (!url) return;
    const limits = this.maxUnackMs();
    for (const a of this.h.alarms.values()) {
      if (!escalationDue(a, now, limits) || (this.h.escalates && !this.h.escalates(a))) continue;
      if (this.escalated.get(a.alarmId)?.since === a.since) continue;
      this.escalated.set(a.alarmId, { since: a.since, at: now });
      const p = this.sendEscalation(a, url, now).finally(() => this.escalating.delete(p));
      this.escalating.add(p);
    }
  }

  private async sendEscalation(a: Alarm, url: string, now: number): Promise<void> {
    const o = this.h.options;
    const view = this.h.view(a);
    const body = {
      type: 'alarm_escalation',
      escalatedAt: now,
      unacknowledgedS: Math.round((now - a.since) / 1000),
      limitS: o.afterS[severityName(a.severity)],
      alarm: view,
    };
    const stillDue = () => this.h.running() && this.h.alarms.get(a.alarmId)?.state === 'unack_active' && this.h.alarms.get(a.alarmId)?.since === a.since;
    const res = await postWebhook(body, { url, attempts: o.attempts, retryDelayMs: o.retryDelayMs, timeoutMs: o.timeoutMs }, stillDue);
    if (!this.h.running() && !res.delivered) {
      // interrupted by shutdown: not journaled, so the next start sends it again
      this.escalated.delete(a.alarmId);
      return;
    }
    const entry: EscalationEntry = {
      kind: 'escalation',
      seq: this.h.nextSeq(),
      at: this.h.clock(),
      alarmId: a.alarmId,
      ruleId: a.ruleId,
      source: a.source,
      severity: a.severity,
      since: a.since,
      target: redactUrl(url),
      attempts: res.attempts,
      delivered: res.delivered,
    };
    if (res.status !== undefined) entry.status = res.status;
    if (res.error !== undefined) entry.error = res.error;
    this.track(entry);
    this.h.enqueue(entry);
    this.h.log[res.delivered ? 'info' : 'error']({ alarmId: a.alarmId, attempts: res.attempts, status: res.status, error: res.error, seq: entry.seq }, res.delivered ? 'alarm escalated' : 'alarm escalation failed');
    this.h.push({ type: 'alarm_escalation', seq: entry.seq, escalation: entry });
  }
}
