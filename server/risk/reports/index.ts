/** Risk reports: a station's report and the center's daily, weekly and monthly sheets (docs/risk.md, Reports). */
export * from './period.ts';
export * from './totals.ts';
export * from './station-report.ts';
export * from './sheets.ts';
export * from './source.ts';
export * from './build.ts';
export { reportHtml, stationHtml, dailyHtml, weeklyHtml, monthlyHtml, CHART_ROWS } from './html.ts';
export { REPORT_CSP } from './html-page.ts';
export { reportCsv } from './csv.ts';
export { MESSAGES, msg, indicatorName, codeWord, type ReportLang } from './messages.ts';
export { PdfPrinter, findExecutable, type PdfOptions } from './pdf.ts';
export { dailySummaries, sendDailySummaries, reportLink, type SummaryOptions, type SummaryPerson, type SummaryMessage } from './sms.ts';
export { riskReportRoutes, type RiskReportRoutesOptions } from './routes.ts';
export { RiskReports, reportSource, type RiskReportsConfig, type RiskRuntime } from './wiring.ts';
