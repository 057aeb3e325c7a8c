/**
 * The figures every report shares: days per code, mean scores, the worst
 * indicator of a run of days, items of a period, ranking order. Pure.
 */
import type { RiskCode, RiskItem, RiskItemEvent, StationRiskDay } from '../../../contract/risk.ts';

export interface CodeCounts {
  red: number;
  yellow: number;
  green: number;
  /** days (or stations) without a code: not computed, or too little data */
  none: number;
}

export const noCounts = (): CodeCounts => ({ red: 0, yellow: 0, green: 0, none: 0 });

export function countCodes(codes: readonly (RiskCode | null | undefined)[]): CodeCounts {
  const c = noCounts();
  for (const code of codes) c[code ?? 'none']++;
  return c;
}

export function addCounts(a: CodeCounts, b: CodeCounts): CodeCounts {
  return { red: a.red + b.red, yellow: a.yellow + b.yellow, green: a.green + b.green, none: a.none + b.none };
}

export const round2 = (x: number) => Math.round(x * 100) / 100;

/** mean of the numbers given, rounded to 0.01; null when there are none */
export function mean(xs: readonly (number | null | undefined)[]): number | null {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? round2(v.reduce((s, x) => s + x, 0) / v.length) : null;
}

export function maxOf(xs: readonly (number | null | undefined)[]): number | null {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? Math.max(...v) : null;
}

/** The days of `period` looked up in a station's history: a code or null for each. */
export function codesOfDays(days: readonly string[], history: readonly StationRiskDay[]): (RiskCode | null)[] {
  const byDay = new Map(history.map((d) => [d.day, d]));
  return days.map((d) => byDay.get(d)?.code ?? null);
}

/**
 * The indicator that drove a run of days: the largest mean contribution over
 * the days with a score (a day where it did not contribute counts 0). Null
 * when nothing contributed. Its mean contribution comes with it.
 */
export function worstIndicator(history: readonly StationRiskDay[]): { id: string; contribution: number } | null {
  const scored = history.filter((d) => d.score !== null);
  if (!scored.length) return null;
  const sum = new Map<string, number>();
  for (const d of scored) for (const i of d.indicators) if (i.contribution) sum.set(i.id, (sum.get(i.id) ?? 0) + i.contribution);
  let best: { id: string; contribution: number } | null = null;
  for (const [id, s] of sum) if (s > 0 && (best === null || s > best.contribution)) best = { id, contribution: s };
  return best && { id: best.id, contribution: round2(best.contribution / scored.length) };
}

export interface ItemCounts {
  /** opened in the period */
  opened: number;
  /** closed (verified) in the period */
  closed: number;
  /** escalated in the period: not answered by their due time */
  overdue: number;
  /** still open or answered at the period's end */
  open: number;
}

const escalatedAt = (item: RiskItem): number[] => item.events.filter((e: RiskItemEvent) => e.kind === 'escalated').map((e) => e.at);

/** Item figures of a period [from, to) in epoch ms. An item escalated without an event counts by its due time. */
export function itemCounts(items: readonly RiskItem[], from: number, to: number): ItemCounts {
  const inside = (t: number | null) => t !== null && t >= from && t < to;
  let opened = 0;
  let closed = 0;
  let overdue = 0;
  let open = 0;
  for (const it of items) {
    if (inside(it.openedAt)) opened++;
    if (inside(it.closedAt)) closed++;
    const esc = escalatedAt(it);
    if (esc.length ? esc.some(inside) : it.escalated && inside(it.dueAt)) overdue++;
    if (it.openedAt < to && (it.closedAt === null || it.closedAt >= to)) open++;
  }
  return { opened, closed, overdue, open };
}

/** Items of a station that were open at some time in [from, to): opened before `to`, not closed before `from`. */
export function itemsTouching(items: readonly RiskItem[], station: string, from: number, to: number): RiskItem[] {
  return items.filter((i) => i.station === station && i.openedAt < to && (i.closedAt === null || i.closedAt >= from)).sort((a, b) => a.openedAt - b.openedAt);
}

/**
 * Ranks rows worst first by `keys` (each larger = worse, null last), ties in
 * the order given (topology order); numbers the ranks from 1.
 */
export function rankBy<T extends { rank: number }>(rows: T[], keys: ((r: T) => number | null)[]): T[] {
  const order = new Map(rows.map((r, i) => [r, i]));
  const sorted = [...rows].sort((a, b) => {
    for (const k of keys) {
      const x = k(a);
      const y = k(b);
      if (x === y) continue;
      if (x === null) return 1;
      if (y === null) return -1;
      return y - x;
    }
    return order.get(a)! - order.get(b)!;
  });
  sorted.forEach((r, i) => (r.rank = i + 1));
  return sorted;
}
