/**
 * The PDF printer with the real Chromium: a daily sheet of 40 stations
 * prints on A4 over more than one page (the full ranking starts on a new
 * page, its header repeated), two prints at once share one browser; a
 * binary that does not exist is GW_ERR_REPORT_PDF_UNAVAILABLE naming it.
 * The sheet's print layout is also shot (print media) to
 * test-artifacts/risk-report-print-*.png.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { RiskRanking, RiskRankingRow } from '../../contract/risk.ts';
import { buildDailySheet, dailyHtml, dailyPeriod, findExecutable, PdfPrinter } from '../../server/risk/reports/index.ts';
import { CHROMIUM, launchChromium, screenshotPath } from '../support/browser.ts';
import { testLog } from '../support/logger.ts';

const N = 40;
const stations = Array.from({ length: N }, (_, i) => ({ id: `s${i + 1}`, name: `第${i + 1}供电所` }));
const row = (i: number): RiskRankingRow => {
  const score = Math.round((45 - i) * 100) / 100;
  return {
    station: `s${i + 1}`, name: `第${i + 1}供电所`, day: '2026-11-30', code: score >= 30 ? 'red' : score >= 14 ? 'yellow' : 'green', score, previousScore: score + 1,
    trend: [], driving: 'ack-time-mean', highRiskDaysThisMonth: i < 3 ? 12 : 0, flagged: i < 3, openItems: i < 5 ? 1 : 0,
  };
};
const ranking: RiskRanking = { day: '2026-11-30', computedAt: 1, rows: stations.map((_, i) => row(i)) };
const p = dailyPeriod('2026-11-30', '2026-12-07');
if (!p.ok) throw new Error(p.reason);
const sheet = buildDailySheet({
  meta: { period: { kind: 'daily', label: p.period.label, from: p.period.from, to: p.period.to }, generatedAt: Date.UTC(2026, 11, 1), timezone: '+08:00', thresholds: { yellow: 14, red: 30 }, scope: null },
  stations, ranking, previous: null,
});
const pages = (pdf: Buffer) => Number(/\/Type\s*\/Pages[^>]*\/Count\s+(\d+)/.exec(pdf.toString('latin1'))?.[1] ?? /\/Count\s+(\d+)/.exec(pdf.toString('latin1'))?.[1] ?? 0);

const printer = new PdfPrinter({ chromium: CHROMIUM, timeoutMs: 60_000, concurrency: 1, idleCloseS: 60 }, testLog);
afterAll(() => printer.stop());

describe('PDF printer', () => {
  it('a 40-station daily sheet prints on several A4 pages; two prints at once both finish', async () => {
    const html = dailyHtml(sheet, 'zh');
    const [a, b] = await Promise.all([printer.print(html, '日监控 2026-11-30'), printer.print(dailyHtml(sheet, 'en'), 'daily 2026-11-30')]);
    for (const pdf of [a, b]) {
      expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
      expect(pages(pdf)).toBeGreaterThanOrEqual(2);
    }
  });

  it('its print layout', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 794, height: 1123 } });
      await page.setContent(dailyHtml(sheet, 'zh'));
      await page.emulateMedia({ media: 'print' });
      // the ranking begins on a page of its own when the sheet has more than 20 stations
      expect(await page.locator('section.page-break table[data-table="ranking"] tbody tr').count()).toBe(N);
      await page.screenshot({ path: await screenshotPath('risk-report-print-daily'), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  it('no such binary: GW_ERR_REPORT_PDF_UNAVAILABLE naming it', async () => {
    expect(findExecutable('no-such-chromium-binary')).toBeNull();
    expect(findExecutable(CHROMIUM)).toBe(CHROMIUM);
    const none = new PdfPrinter({ chromium: '/opt/none/chromium', timeoutMs: 5000, concurrency: 1, idleCloseS: 1 }, testLog);
    await expect(none.print('<p>x</p>', 'x')).rejects.toMatchObject({ code: 'GW_ERR_REPORT_PDF_UNAVAILABLE', message: expect.stringContaining('/opt/none/chromium') });
    await none.stop();
  });
});
