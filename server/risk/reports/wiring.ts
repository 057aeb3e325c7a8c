/**
 * The risk reports as one server process composes them: the report source
 * over the risk runtime and the risk items, the PDF printer (Chromium), and
 * the SMS summaries sent after each daily run.
 */
import type { Logger } from 'pino';
import type { RiskItem, RiskRanking, StationRiskDay } from '../../../contract/risk.ts';
import type { Notifier } from '../../notify/types.ts';
import { PdfPrinter } from './pdf.ts';
import { sendDailySummaries, type SummaryOptions, type SummaryPerson } from './sms.ts';
import type { RiskReportSource } from './source.ts';

export interface RiskReportsConfig {
  /** Chromium binary (a path, or a name on PATH); '' turns PDF off */
  chromium: string;
  pdfTimeoutMs: number;
  pdfConcurrency: number;
  pdfIdleCloseS: number;
  /** contact-directory roles that get the daily SMS summary */
  smsRoles: readonly string[];
  /** `risk`: only when a red, yellow or flagged station is theirs; `always`: every daily run */
  smsWhen: 'risk' | 'always';
}

/** What the reports need of the risk runtime (server/risk/service.ts) */
export interface RiskRuntime {
  readonly model: { thresholds: { yellow: number; red: number }; timezone: string };
  readonly stations: readonly { id: string; name: string }[];
  history(station: string, from: string, to: string): Promise<StationRiskDay[]>;
  historyAll(from: string, to: string): Promise<StationRiskDay[]>;
  latest(day?: string): Promise<RiskRanking>;
  onComputed(listener: (days: StationRiskDay[]) => void | Promise<void>): () => void;
}

export function reportSource(risk: RiskRuntime, items: { list(f: { sites: null }): RiskItem[] } | null): RiskReportSource {
  return {
    model: () => risk.model,
    stations: () => risk.stations,
    latestDay: async () => {
      const r = await risk.latest();
      return r.computedAt === null ? null : r.day;
    },
    history: (station, from, to) => risk.history(station, from, to),
    historyAll: (from, to) => risk.historyAll(from, to),
    ranking: (day) => risk.latest(day),
    items: () => items?.list({ sites: null }) ?? [],
  };
}

export class RiskReports {
  readonly source: RiskReportSource;
  /** null when `chromium` is '' */
  readonly printer: PdfPrinter | null;
  private unsubscribe: (() => void) | null = null;
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly o: { config: RiskReportsConfig; lang: 'zh' | 'en'; baseUrl: () => string | null },
    private readonly deps: {
      risk: RiskRuntime;
      items: { list(f: { sites: null }): RiskItem[] } | null;
      contacts: { route(roles: readonly string[]): readonly SummaryPerson[] } | null;
      notifier: Notifier | null;
      log: Logger;
    },
  ) {
    this.source = reportSource(deps.risk, deps.items);
    const c = o.config;
    this.printer = c.chromium ? new PdfPrinter({ chromium: c.chromium, timeoutMs: c.pdfTimeoutMs, concurrency: c.pdfConcurrency, idleCloseS: c.pdfIdleCloseS }, deps.log) : null;
  }

  start(): void {
    const exe = this.printer?.executable() ?? null;
    if (!this.printer) this.deps.log.info('risk.reports.chromium is empty: PDF reports are off');
    else if (exe === null) this.deps.log.warn({ chromium: this.o.config.chromium }, 'no Chromium for PDF reports: PDF answers 503, HTML and CSV are served');
    if (!this.deps.notifier || !this.deps.contacts) return;
    this.unsubscribe = this.deps.risk.onComputed((days) => {
      const day = days[0];
      if (day?.run !== 'daily') return;
      const sent = this.sendSummaries(day.day).catch((err) => this.deps.log.error({ err, day: day.day }, 'risk summary SMS failed'));
      this.sending = sent;
      return sent.then(() => undefined);
    });
  }

  /** The day's SMS summaries to the configured roles (after the daily run; callable for a day again: keys make it send nothing twice). */
  async sendSummaries(day: string): Promise<{ accepted: number; duplicates: number; rejected: number }> {
    if (!this.deps.notifier || !this.deps.contacts) return { accepted: 0, duplicates: 0, rejected: 0 };
    const ranking = await this.deps.risk.latest(day);
    const o: SummaryOptions = { roles: this.o.config.smsRoles, baseUrl: this.o.baseUrl(), when: this.o.config.smsWhen, lang: this.o.lang, maxNames: 3 };
    return sendDailySummaries({ notifier: this.deps.notifier, people: this.deps.contacts.route(o.roles), log: this.deps.log }, ranking, o);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.sending.catch(() => undefined);
    await this.printer?.stop();
  }
}
