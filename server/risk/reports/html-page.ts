/**
 * The printable page every report shares: A4 CSS with @page and page
 * breaks, the header with the period and the generation time, code chips,
 * number and time formats. No script and no external resource: the style
 * is inline, and the server's answer allows that one style by its hash
 * (STYLE_CSP) and nothing else.
 */
import { createHash } from 'node:crypto';
import type { RiskCode } from '../../../contract/risk.ts';
import { codeWord, msg, type ReportLang } from './messages.ts';
import type { ReportMeta } from './station-report.ts';
import { esc } from './svg.ts';

const CSS = `
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
html { background: #eceff1; }
body { margin: 0; font: 12px/1.45 "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: #1d2125; }
main { width: 210mm; min-height: 297mm; margin: 0 auto; padding: 14mm 12mm; background: #fff; }
@media print { html { background: #fff; } main { width: auto; min-height: 0; margin: 0; padding: 0; } }
.head { border-bottom: 2px solid #1d4e89; padding-bottom: 6px; margin-bottom: 10px; }
h1 { font-size: 20px; margin: 0 0 2px; color: #1d4e89; letter-spacing: 0.02em; }
h2 { font-size: 14px; margin: 14px 0 6px; padding-left: 6px; border-left: 4px solid #1d4e89; break-after: avoid; }
.sub { font-size: 15px; margin: 0 0 4px; font-weight: 600; }
.meta { display: flex; flex-wrap: wrap; gap: 2px 18px; margin: 0; color: #444; }
.meta div { display: flex; gap: 6px; }
.meta dt { font-weight: 600; }
.meta dd { margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; break-inside: avoid; }
.card { flex: 1 1 0; min-width: 80px; border: 1px solid #d5dbe1; border-radius: 4px; padding: 6px 8px; }
.card .k { color: #555; font-size: 11px; }
.card .v { font-size: 20px; font-weight: 700; }
.card.red .v { color: #d93838; } .card.yellow .v { color: #b88a00; } .card.green .v { color: #2e9d57; } .card.none .v { color: #777; }
.chart { break-inside: avoid; margin: 4px 0 8px; }
.chart svg { display: block; max-width: 100%; height: auto; }
table { width: 100%; border-collapse: collapse; margin: 4px 0 8px; font-size: 11px; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { border: 1px solid #cfd6dd; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #eef2f6; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.n { white-space: nowrap; }
td.name { white-space: nowrap; }
td.ind { min-width: 7em; }
table.wide { font-size: 10px; }
table.wide th, table.wide td { padding: 2px 3px; }
tfoot td { font-weight: 700; background: #f6f8fa; }
tr.driving td { background: #fff6e0; }
.code { display: inline-block; min-width: 3.2em; padding: 0 6px; border-radius: 9px; color: #fff; font-size: 11px; text-align: center; white-space: nowrap; }
.code-red { background: #d93838; } .code-yellow { background: #e0a800; color: #222; } .code-green { background: #2e9d57; } .code-none { background: #a0a4a8; }
.big .code { font-size: 16px; padding: 2px 12px; border-radius: 12px; }
.flag { color: #d93838; font-weight: 700; }
.up { color: #d93838; } .down { color: #2e9d57; }
.muted { color: #777; }
ul.plain { margin: 2px 0 6px; padding-left: 18px; }
.events { margin: 2px 0 0; padding-left: 16px; color: #333; }
.page-break { break-before: page; }
.note { margin-top: 12px; padding-top: 6px; border-top: 1px solid #cfd6dd; color: #555; font-size: 10.5px; }
`;

/** the CSP source that allows exactly the reports' inline style */
export const STYLE_CSP = `'sha256-${createHash('sha256').update(CSS).digest('base64')}'`;
/** the Content-Security-Policy of a report page: its style, inline SVG and nothing else */
export const REPORT_CSP = `default-src 'none'; style-src ${STYLE_CSP}; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'`;

/** `2026-12-06 14:05` in the zone `tz` */
export function timeIn(ms: number | null, tz: string): string {
  if (ms === null || !Number.isFinite(ms)) return '';
  const sign = tz.startsWith('-') ? -1 : 1;
  const [h, m] = tz.slice(1).split(':').map(Number);
  const local = new Date(ms + sign * ((h ?? 0) * 60 + (m ?? 0)) * 60_000).toISOString();
  return `${local.slice(0, 10)} ${local.slice(11, 16)}`;
}

/** a number with at most `digits` decimals, '–' for none */
export function num(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return String(Math.round(v * 10 ** digits) / 10 ** digits);
}

/** a signed change as text: +1.5, −1.5, 0, – */
export function signed(v: number | null, digits = 2): string {
  if (v === null) return '–';
  return v === 0 ? '0' : `${v > 0 ? '+' : '−'}${num(Math.abs(v), digits)}`;
}

/** a signed change, coloured: up (worse) red, down green */
export function delta(v: number | null, digits = 2): string {
  if (v === null) return '<span class="muted">–</span>';
  if (v === 0) return '0';
  return `<span class="${v > 0 ? 'up' : 'down'}">${v > 0 ? '+' : '−'}${esc(num(Math.abs(v), digits))}</span>`;
}

export function chip(lang: ReportLang, code: RiskCode | null): string {
  return `<span class="code code-${code ?? 'none'}">${esc(codeWord(lang, code))}</span>`;
}

export function yesNo(lang: ReportLang, v: boolean): string {
  return v ? `<span class="flag">${esc(msg(lang, 'yes'))}</span>` : esc(msg(lang, 'no'));
}

export function card(label: string, value: string, cls = '', field = ''): string {
  return `<div class="card ${cls}"><div class="k">${esc(label)}</div><div class="v"${field ? ` data-total="${esc(field)}"` : ''}>${esc(value)}</div></div>`;
}

/** `<th>`s of a header row; a label starting with '#' is a numeric column */
export function headRow(labels: readonly string[]): string {
  return `<tr>${labels.map((l) => (l.startsWith('#') ? `<th class="n">${esc(l.slice(1))}</th>` : `<th>${esc(l)}</th>`)).join('')}</tr>`;
}

/** The whole page around a report's body. */
export function page(lang: ReportLang, o: { kind: string; title: string; subtitle?: string; meta: ReportMeta; body: string }): string {
  const m = o.meta;
  const scope = m.scope === null ? msg(lang, 'scope_all') : msg(lang, 'scope_some', { n: m.scope.length });
  const metaItem = (k: string, v: string, field: string) => `<div><dt>${esc(k)}</dt><dd data-meta="${field}">${esc(v)}</dd></div>`;
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(o.title)}${o.subtitle ? ` — ${esc(o.subtitle)}` : ''} ${esc(m.period.label)}</title><style>${CSS}</style></head>
<body data-kind="${esc(o.kind)}"><main>
<header class="head"><h1>${esc(o.title)}</h1>${o.subtitle ? `<p class="sub">${esc(o.subtitle)}</p>` : ''}
<dl class="meta">${metaItem(msg(lang, 'period'), m.period.label, 'period')}${metaItem(msg(lang, 'generated'), `${timeIn(m.generatedAt, m.timezone)} (UTC${m.timezone})`, 'generated')}${metaItem(msg(lang, 'scope'), scope, 'scope')}</dl>
</header>
${o.body}
<footer class="note"><p>${esc(msg(lang, 'thresholds', m.thresholds))}</p><p>${esc(msg(lang, 'note'))}</p></footer>
</main></body></html>
`;
}
