/**
 * The reports' charts as inline SVG (no script, no external resource):
 * horizontal bars per station, and one station's score over the period with
 * the thresholds. Colours by code; every text escaped. Sizes in CSS px
 * (A4 printable width ≈ 700 px at 96 dpi).
 */
import type { RiskCode } from '../../../contract/risk.ts';

/** Text and attribute escaping for HTML and SVG: & < > " ' */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const CODE_COLOURS: Record<RiskCode | 'none', string> = { red: '#d93838', yellow: '#e0a800', green: '#2e9d57', none: '#a0a4a8' };

const WIDTH = 700;
const FONT = 'font-size="11" font-family="Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, sans-serif"';

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

export interface BarRow {
  label: string;
  value: number | null;
  code: RiskCode | null;
}

export interface RefLine {
  value: number;
  colour: string;
  label: string;
}

/** Horizontal bars, one per row in the order given; `max` is the scale's end (at least the largest value). */
export function barChart(rows: readonly BarRow[], opts: { max: number; lines?: readonly RefLine[]; title: string }): string {
  const labelW = 170;
  const barH = 14;
  const gap = 5;
  const top = 8;
  const plotW = WIDTH - labelW - 50;
  const max = Math.max(opts.max, ...rows.map((r) => r.value ?? 0), 1);
  const x = (v: number) => labelW + (v / max) * plotW;
  const h = top + rows.length * (barH + gap) + 24;
  const parts: string[] = [];
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const label = r.label.length > 14 ? `${r.label.slice(0, 13)}…` : r.label;
    parts.push(`<text x="${labelW - 6}" y="${y + barH - 3}" text-anchor="end" ${FONT}>${esc(label)}</text>`);
    if (r.value === null) {
      parts.push(`<text x="${labelW + 4}" y="${y + barH - 3}" ${FONT} fill="#777">–</text>`);
      return;
    }
    const w = Math.max(1, x(r.value) - labelW);
    parts.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${CODE_COLOURS[r.code ?? 'none']}"/>`);
    parts.push(`<text x="${(labelW + w + 4).toFixed(1)}" y="${y + barH - 3}" ${FONT}>${esc(fmt(r.value))}</text>`);
  });
  const bottom = top + rows.length * (barH + gap);
  for (const l of opts.lines ?? []) {
    if (l.value > max) continue;
    const lx = x(l.value).toFixed(1);
    parts.push(`<line x1="${lx}" y1="${top - 4}" x2="${lx}" y2="${bottom}" stroke="${l.colour}" stroke-width="1.2" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${lx}" y="${bottom + 14}" text-anchor="middle" ${FONT} fill="${l.colour}">${esc(l.label)}</text>`);
  }
  parts.push(`<line x1="${labelW}" y1="${top - 4}" x2="${labelW}" y2="${bottom}" stroke="#555"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(opts.title)}" width="${WIDTH}" height="${h}" viewBox="0 0 ${WIDTH} ${h}">${parts.join('')}</svg>`;
}

/** A station's score per day: a line broken where a day has no score, points coloured by code, the thresholds dashed. */
export function scoreLine(points: readonly { day: string; score: number | null; code: RiskCode | null }[], opts: { thresholds: { yellow: number; red: number }; title: string }): string {
  const h = 220;
  const left = 36;
  const right = 16;
  const top = 10;
  const bottom = 28;
  const plotW = WIDTH - left - right;
  const plotH = h - top - bottom;
  const maxScore = Math.max(...points.map((p) => p.score ?? 0), 0);
  const yMax = Math.min(100, Math.ceil((Math.max(maxScore, opts.thresholds.red) + 10) / 10) * 10);
  const n = points.length;
  const x = (i: number) => left + (n <= 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (v: number) => top + plotH - (Math.min(v, yMax) / yMax) * plotH;
  const parts: string[] = [];
  for (let v = 0; v <= yMax; v += yMax > 50 ? 20 : 10) {
    parts.push(`<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${WIDTH - right}" y2="${y(v).toFixed(1)}" stroke="#e3e3e3"/>`);
    parts.push(`<text x="${left - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" ${FONT}>${v}</text>`);
  }
  for (const [code, v] of [['yellow', opts.thresholds.yellow], ['red', opts.thresholds.red]] as const) {
    if (v > yMax) continue;
    parts.push(`<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${WIDTH - right}" y2="${y(v).toFixed(1)}" stroke="${CODE_COLOURS[code]}" stroke-width="1.2" stroke-dasharray="5 3"/>`);
  }
  let seg: string[] = [];
  const flush = () => {
    if (seg.length > 1) parts.push(`<polyline points="${seg.join(' ')}" fill="none" stroke="#3465a4" stroke-width="1.6"/>`);
    seg = [];
  };
  points.forEach((p, i) => {
    if (p.score === null) return flush();
    seg.push(`${x(i).toFixed(1)},${y(p.score).toFixed(1)}`);
  });
  flush();
  points.forEach((p, i) => {
    if (p.score !== null) parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(p.score).toFixed(1)}" r="2.8" fill="${CODE_COLOURS[p.code ?? 'none']}"/>`);
  });
  const every = Math.max(1, Math.ceil(n / 8));
  points.forEach((p, i) => {
    if ((i % every === 0 && n - 1 - i >= every / 2) || i === n - 1) parts.push(`<text x="${x(i).toFixed(1)}" y="${h - 10}" text-anchor="middle" ${FONT}>${esc(p.day.slice(5))}</text>`);
  });
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${WIDTH - right}" y2="${top + plotH}" stroke="#555"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(opts.title)}" width="${WIDTH}" height="${h}" viewBox="0 0 ${WIDTH} ${h}">${parts.join('')}</svg>`;
}
