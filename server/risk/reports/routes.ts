/**
 * REST of the risk reports (docs/api.md, Risk reports): a station's report
 * and the center's daily, weekly and monthly sheets, each as printable HTML
 * (default), PDF (printed by Chromium), CSV or JSON (the report value).
 * Viewer role; a user scoped to some stations gets the report of its own
 * stations only (another station: 404) and center sheets covering its
 * stations only. A bad period is 400 with the reason; no Chromium is 503
 * GW_ERR_REPORT_PDF_UNAVAILABLE while HTML, CSV and JSON still answer.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RISK_PATHS } from '../../../contract/risk.ts';
import { CSV_CONTENT_TYPE } from '../../csv.ts';
import { GridwatchError } from '../../errors.ts';
import { sitesOf } from '../../scope.ts';
import { buildReport, reportFileName, type Report, type ReportRequest } from './build.ts';
import { reportCsv } from './csv.ts';
import { REPORT_CSP } from './html-page.ts';
import { reportHtml } from './html.ts';
import { msg, type ReportLang } from './messages.ts';
import type { PdfPrinter } from './pdf.ts';
import type { RiskReportSource } from './source.ts';

export interface RiskReportRoutesOptions {
  source: RiskReportSource;
  /** null: PDF answers 503 */
  printer: PdfPrinter | null;
  now?: () => number;
}

type Format = 'html' | 'pdf' | 'csv' | 'json';
interface Common {
  format?: Format;
  lang?: ReportLang;
}

const COMMON = {
  format: { type: 'string', enum: ['html', 'pdf', 'csv', 'json'] },
  lang: { type: 'string', enum: ['zh', 'en'] },
} as const;
const DAY = { type: 'string', minLength: 1, maxLength: 10 } as const;
const query = (props: Record<string, object>) => ({ type: 'object', additionalProperties: false, properties: { ...COMMON, ...props } }) as const;

/** the named query values that were given (an empty one counts as not given) */
function pick<Q extends object, K extends keyof Q & string>(q: Q, ...keys: K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) if (typeof q[k] === 'string' && q[k] !== '') out[k] = q[k] as string;
  return out;
}

const TITLE_KEY = { station: 'title_station', daily: 'title_daily', weekly: 'title_weekly', monthly: 'title_monthly' } as const;

export async function riskReportRoutes(app: FastifyInstance, opts: RiskReportRoutesOptions): Promise<void> {
  const now = opts.now ?? Date.now;

  const answer = async (req: FastifyRequest<{ Querystring: Common }>, reply: FastifyReply, what: ReportRequest) => {
    const report: Report = await buildReport(opts.source, what, sitesOf(req.session), now());
    const lang = req.query.lang ?? 'zh';
    const format = req.query.format ?? 'html';
    reply.header('cache-control', 'no-store');
    switch (format) {
      case 'json':
        return report;
      case 'csv':
        return reply.type(CSV_CONTENT_TYPE).header('content-disposition', `attachment; filename="${reportFileName(report, 'csv')}"`).send(reportCsv(report, lang));
      case 'html':
        return reply.type('text/html; charset=utf-8').header('content-security-policy', REPORT_CSP).send(reportHtml(report, lang));
      case 'pdf': {
        if (!opts.printer) throw new GridwatchError('GW_ERR_REPORT_PDF_UNAVAILABLE', 'PDF printing is off (risk.reports.chromium is empty); HTML and CSV are served', { retryable: true });
        const title = msg(lang, TITLE_KEY[report.kind]) + (report.kind === 'station' ? ` ${report.station.name}` : '');
        const pdf = await opts.printer.print(reportHtml(report, lang), `${title} ${report.meta.period.label}`);
        return reply.type('application/pdf').header('content-disposition', `inline; filename="${reportFileName(report, 'pdf')}"`).send(pdf);
      }
      default: {
        const never: never = format;
        return never;
      }
    }
  };

  app.get<{ Params: { station: string }; Querystring: Common & { from?: string; to?: string; day?: string } }>(
    RISK_PATHS.reportStation,
    { config: { minRole: 'viewer' }, schema: { params: { type: 'object', properties: { station: { type: 'string', minLength: 1, maxLength: 64 } } }, querystring: query({ from: DAY, to: DAY, day: DAY }) } },
    async (req, reply) => answer(req, reply, { kind: 'station', station: req.params.station, ...pick(req.query, 'from', 'to', 'day') }),
  );

  app.get<{ Querystring: Common & { day?: string } }>(RISK_PATHS.reportDaily, { config: { minRole: 'viewer' }, schema: { querystring: query({ day: DAY }) } }, async (req, reply) =>
    answer(req, reply, { kind: 'daily', ...pick(req.query, 'day') }),
  );

  app.get<{ Querystring: Common & { week?: string; day?: string } }>(
    RISK_PATHS.reportWeekly,
    { config: { minRole: 'viewer' }, schema: { querystring: query({ week: { type: 'string', minLength: 1, maxLength: 8 }, day: DAY }) } },
    async (req, reply) => answer(req, reply, { kind: 'weekly', ...pick(req.query, 'week', 'day') }),
  );

  app.get<{ Querystring: Common & { month?: string; day?: string } }>(
    RISK_PATHS.reportMonthly,
    { config: { minRole: 'viewer' }, schema: { querystring: query({ month: { type: 'string', minLength: 1, maxLength: 7 }, day: DAY }) } },
    async (req, reply) => answer(req, reply, { kind: 'monthly', ...pick(req.query, 'month', 'day') }),
  );
}
