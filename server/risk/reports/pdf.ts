/**
 * PDF of a report, printed by headless Chromium (playwright-core driving the
 * binary named by `risk.reports.chromium`, a path or a name on PATH).
 *
 * One browser is started on the first PDF asked for and kept for the next
 * ones (a start costs about a second and 100 MB); it is closed after
 * `idleCloseS` without a print, when it crashes (the next print starts a new
 * one) and at stop. Each print is its own browser context with JavaScript
 * off and every network request refused: the page is our own HTML with
 * inline style and SVG only. At most `concurrency` prints run at once; the
 * others wait, each within `timeoutMs` in all.
 *
 * Chromium runs with --no-sandbox: its sandbox needs user namespaces that
 * servers and containers often do not grant, and what it renders is our own
 * script-free page with no network.
 */
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
// the module is loaded at the first PDF, not at start: it takes longer to load than most of the server
import type { Browser } from 'playwright-core';
import { GridwatchError } from '../../errors.ts';

export interface PdfOptions {
  /** the Chromium binary: a path, or a name looked up on PATH */
  chromium: string;
  /** one print, waiting included, ms */
  timeoutMs: number;
  /** prints at once */
  concurrency: number;
  /** the browser is closed after this long without a print, s */
  idleCloseS: number;
}

/** The executable `bin` names: itself when it holds a slash, else the first match on PATH; null when none is executable. */
export function findExecutable(bin: string, envPath = process.env.PATH ?? ''): string | null {
  const executable = (f: string) => {
    try {
      accessSync(f, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (bin.includes('/')) return executable(bin) ? path.resolve(bin) : null;
  for (const dir of envPath.split(path.delimiter).filter(Boolean)) {
    const f = path.join(dir, bin);
    if (executable(f)) return f;
  }
  return null;
}

export class PdfPrinter {
  private browser: Promise<Browser> | null = null;
  private running = 0;
  private waiting: Array<() => void> = [];
  private idle: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly o: PdfOptions,
    private readonly log: Logger,
  ) {}

  /** the binary that would be started, or null (PDF answers 503 then) */
  executable(): string | null {
    return findExecutable(this.o.chromium);
  }

  /** Prints `html` on A4 with page numbers in the footer; `footer` is plain text set before them. */
  async print(html: string, footer: string): Promise<Buffer> {
    if (this.stopped) throw new GridwatchError('GW_ERR_REPORT_PDF_UNAVAILABLE', 'the server is stopping', { retryable: true });
    const deadline = Date.now() + this.o.timeoutMs;
    await this.turn(deadline);
    try {
      const browser = await this.launch();
      const left = deadline - Date.now();
      if (left <= 0) throw new GridwatchError('GW_ERR_REPORT_PDF_FAILED', `printing did not start within ${this.o.timeoutMs} ms`, { retryable: true });
      const context = await browser.newContext({ javaScriptEnabled: false, offline: true });
      try {
        await context.route('**/*', (route) => route.abort());
        const page = await context.newPage();
        page.setDefaultTimeout(left);
        await page.setContent(html, { waitUntil: 'load', timeout: left });
        const esc = footer.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
        return await page.pdf({
          format: 'A4',
          printBackground: true,
          preferCSSPageSize: true,
          displayHeaderFooter: true,
          headerTemplate: '<span></span>',
          footerTemplate: `<div style="width:100%;font-size:8px;color:#666;padding:0 12mm;display:flex;justify-content:space-between"><span>${esc}</span><span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>`,
        });
      } catch (e) {
        if (e instanceof GridwatchError) throw e;
        this.log.warn({ err: e }, 'PDF print failed');
        throw new GridwatchError('GW_ERR_REPORT_PDF_FAILED', `printing the PDF failed: ${(e as Error).message.split('\n')[0]}`, { cause: e, retryable: true });
      } finally {
        await context.close().catch(() => undefined);
      }
    } finally {
      this.release();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    for (const w of this.waiting.splice(0)) w();
    const b = this.browser;
    this.browser = null;
    if (b) await b.then((x) => x.close()).catch(() => undefined);
  }

  private launch(): Promise<Browser> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    if (this.browser) return this.browser;
    const exe = this.executable();
    if (exe === null)
      return Promise.reject(new GridwatchError('GW_ERR_REPORT_PDF_UNAVAILABLE', `no Chromium to print with: "${this.o.chromium}" is not an executable${this.o.chromium.includes('/') ? '' : ' on PATH'} (risk.reports.chromium); HTML and CSV are served`, { retryable: true }));
    const started = import('playwright-core').then(({ chromium }) => chromium.launch({
      executablePath: exe,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    }));
    this.browser = started.then(
      (b) => {
        this.log.info({ chromium: exe }, 'Chromium started for PDF reports');
        b.on('disconnected', () => {
          if (this.browser === started) this.browser = null;
        });
        return b;
      },
      (err: Error) => {
        this.browser = null;
        this.log.error({ err, chromium: exe }, 'Chromium did not start');
        throw new GridwatchError('GW_ERR_REPORT_PDF_UNAVAILABLE', `Chromium (${exe}) did not start: ${err.message.split('\n')[0]}`, { cause: err, retryable: true });
      },
    );
    return this.browser;
  }

  private async turn(deadline: number): Promise<void> {
    while (this.running >= this.o.concurrency) {
      const left = deadline - Date.now();
      if (left <= 0 || this.stopped) throw new GridwatchError('GW_ERR_REPORT_PDF_FAILED', `no printer free within ${this.o.timeoutMs} ms`, { retryable: true });
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiting = this.waiting.filter((w) => w !== wake);
          resolve();
        }, left);
        const wake = () => {
          clearTimeout(t);
          resolve();
        };
        this.waiting.push(wake);
      });
    }
    this.running++;
  }

  private release(): void {
    this.running--;
    this.waiting.shift()?.();
    if (this.running === 0 && !this.stopped && this.browser) {
      this.idle = setTimeout(() => {
        const b = this.browser;
        this.browser = null;
        this.idle = null;
        if (b) void b.then((x) => x.close()).catch(() => undefined);
      }, this.o.idleCloseS * 1000);
      this.idle.unref();
    }
  }
}
