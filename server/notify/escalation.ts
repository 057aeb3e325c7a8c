/**
 * Alarm escalation by SMS: an alarm left unacknowledged past its severity's
 * limit (alarms.escalation.afterS, the same limits as the webhook) is sent
 * through the notification port to the people of the contact directory with
 * one of the configured roles who answer for the alarm's station. The key
 * `alarm:<since>:<person>:<alarmId>` makes it once per annunciation and
 * person, also across restarts. The webhook keeps working beside it.
 */
import type { Logger } from 'pino';
import type { AlarmView, Severity } from '../../contract/index.ts';
import { escalationDue, severityName } from '../rules/index.ts';
import type { ContactDirectory } from './contacts.ts';
import type { NotifyRequest, Notifier } from './types.ts';

export interface SmsEscalationOptions {
  roles: readonly string[];
  /** per severity name, s; 0 = never */
  afterS: Readonly<Record<'critical' | 'high' | 'medium' | 'low', number>>;
  /** check period, ms */
  tickMs: number;
  lang: 'zh' | 'en';
  /** minutes east of UTC for the times in the text */
  tzOffsetMin: number;
}

const SEVERITY_ZH: Record<string, string> = { critical: '紧急', high: '重要', medium: '一般', low: '提示' };

/** The messages due now for the alarms given (pure: time comes in). */
export function escalationNotices(alarms: readonly AlarmView[], now: number, o: SmsEscalationOptions, contacts: Pick<ContactDirectory, 'route'>): NotifyRequest[] {
  const limits: Partial<Record<Severity, number>> = {};
  ([1, 2, 3, 4] as const).forEach((s) => {
    const v = o.afterS[severityName(s)];
    if (v > 0) limits[s] = v * 1000;
  });
  const out: NotifyRequest[] = [];
  for (const a of alarms) {
    if (!escalationDue(a, now, limits)) continue;
    const start = new Date(a.since + o.tzOffsetMin * 60_000).toISOString().slice(5, 16).replace('T', ' ');
    for (const p of contacts.route(o.roles, a.site || undefined)) {
      out.push({
        key: `alarm:${a.since}:${p.id}:${a.alarmId}`,
        to: { phone: p.phone, name: p.name, person: p.id },
        template: 'alarm_escalation',
        vars: {
          severity: o.lang === 'zh' ? (SEVERITY_ZH[a.severityName] ?? a.severityName) : a.severityName,
          title: a.ruleName ?? a.message ?? a.ruleId,
          site: a.site || a.source,
          start,
          minutes: Math.floor((now - a.since) / 60_000),
        },
        purpose: 'alarm_escalation',
        ref: { kind: 'alarm', id: a.alarmId },
        lang: o.lang,
      });
    }
  }
  return out;
}

export class SmsEscalation {
  private timer: NodeJS.Timeout | null = null;
  /** `alarmId:since` already handed over in this process (the keys hold it across restarts) */
  private readonly done = new Set<string>();
  private busy = false;
  /** cluster mode: whether this server sends the escalations now (the center lease holder) */
  private active: () => boolean = () => true;
  /** cluster mode: how long an alarm must have been due while another server sent the escalations to count as sent by it, ms */
  private handOverMs = 0;
  /** `alarmId:since` → when this server, not sending, first saw it due */
  private readonly dueElsewhere = new Map<string, number>();

  constructor(
    private readonly o: SmsEscalationOptions,
    private readonly deps: { alarms: { current(): AlarmView[]; now(): number }; contacts: ContactDirectory; notifier: Notifier; log: Logger },
  ) {}

  start(): void {
    if (!this.o.roles.length) return;
    this.timer = setInterval(() => void this.tick(), this.o.tickMs);
    this.timer.unref();
  }

  /**
   * Cluster mode: sends only while `fn` says so. An alarm seen due here for
   * longer than `handOverMs` while another server sent the escalations was
   * sent by that one: not sent again on taking over.
   */
  gate(fn: () => boolean, handOverMs: number): void {
    this.active = fn;
    this.handOverMs = handOverMs;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = this.deps.alarms.now();
      const fresh = this.deps.alarms.current().filter((a) => !this.done.has(`${a.alarmId}:${a.since}`));
      let due = escalationNotices(fresh, now, this.o, this.deps.contacts);
      const keyOf = (n: NotifyRequest) => {
        const [, since, , ...id] = n.key.split(':');
        return `${id.join(':')}:${since}`;
      };
      if (!this.active()) {
        const seen = new Set(due.map(keyOf));
        for (const k of seen) if (!this.dueElsewhere.has(k)) this.dueElsewhere.set(k, now);
        for (const k of [...this.dueElsewhere.keys()]) if (!seen.has(k)) this.dueElsewhere.delete(k);
        return;
      }
      if (this.dueElsewhere.size) {
        const sentElsewhere = new Set([...this.dueElsewhere].filter(([, at]) => now - at > this.handOverMs).map(([k]) => k));
        for (const k of sentElsewhere) this.done.add(k);
        this.dueElsewhere.clear();
        due = due.filter((n) => !sentElsewhere.has(keyOf(n)));
      }
      if (!due.length) return;
      const r = await this.deps.notifier.enqueue(due);
      for (const n of due) this.done.add(keyOf(n));
      if (r.accepted.length) this.deps.log.info({ messages: r.accepted.length, alarms: new Set(r.accepted.map((m) => m.ref.id)).size }, 'alarm escalation handed to the notification port');
      for (const x of r.rejected) this.deps.log.warn({ key: x.key, reason: x.reason }, 'alarm escalation message refused');
    } catch (err) {
      this.deps.log.error({ err }, 'alarm escalation by SMS failed; tried again on the next tick');
    } finally {
      this.busy = false;
    }
  }
}
