/**
 * Pieces the service-risk pages share (views/risk*.ts): the REST calls on the
 * paths of contract/risk.ts, the code badge (colour and word), the trend
 * sparkline as inline SVG, numbers, times and who may do what with an item.
 */
import { RISK_PATHS, type RiskCode, type RiskItem, type RiskRanking, type StationRiskDay } from '../../../contract/risk.ts';
import { api, type Me } from '../api.ts';
import { el } from '../dom.ts';
import { hasKey, locale, t, type MsgKey } from '../i18n.ts';

/** a REST path of contract/risk.ts with its `:params` filled, relative to ./api/ as api() wants it */
export function riskPath(key: keyof typeof RISK_PATHS, params: Record<string, string> = {}, query?: URLSearchParams): string {
  const p = RISK_PATHS[key].replace(/:(\w+)/g, (_m, k: string) => encodeURIComponent(params[k] ?? '')).replace(/^\/api\//, '');
  const qs = query?.toString();
  return qs ? `${p}?${qs}` : p;
}

/** the same path as a link the browser opens (a report) */
export const riskHref = (key: keyof typeof RISK_PATHS, params: Record<string, string> = {}, query?: URLSearchParams): string => `./api/${riskPath(key, params, query)}`;

export interface RiskModelInfo {
  thresholds: { yellow: number; red: number };
  timezone?: string;
}

/** the station history answer: a list of days, oldest first (the answer may wrap it) */
export interface StationHistory {
  station: string;
  name?: string;
  days: StationRiskDay[];
}

const json = (body: unknown): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

export const riskApi = {
  ranking: (day: string) => api<RiskRanking>(riskPath('ranking', {}, new URLSearchParams(day ? { day } : {}))),
  /** the station's days from `from` to `to` (both YYYY-MM-DD) */
  async station(station: string, from: string, to: string): Promise<StationHistory> {
    const r = await api<StationHistory | StationRiskDay[] | { history: StationRiskDay[] }>(riskPath('station', { station }, new URLSearchParams({ from, to })));
    const days = Array.isArray(r) ? r : 'days' in r ? r.days : r.history;
    return { station, ...(Array.isArray(r) ? {} : r), days: [...days].sort((a, b) => a.day.localeCompare(b.day)) };
  },
  model: () => api<RiskModelInfo & Record<string, unknown>>(riskPath('model')),
  compute: (day: string) => api<{ stations?: number; days?: unknown[] } & Record<string, unknown>>(riskPath('compute'), json(day ? { day } : {})),
  async items(query: Record<string, string>): Promise<RiskItem[]> {
    const r = await api<{ items: RiskItem[] } | RiskItem[]>(riskPath('items', {}, new URLSearchParams(query)));
    return Array.isArray(r) ? r : r.items;
  },
  async item(id: string): Promise<RiskItem> {
    const r = await api<RiskItem | { item: RiskItem }>(riskPath('item', { id }));
    return 'item' in r ? r.item : r;
  },
  followUp: (id: string, text: string) => api<unknown>(riskPath('followUp', { id }), json({ text })),
  verify: (id: string, accept: boolean, comment: string) => api<unknown>(riskPath('verify', { id }), json({ accept, ...(comment ? { comment } : {}) })),
};

// ---------------------------------------------------------------- who may do what
/** a station user: one whose account is bound to stations (`sites`) */
export const isStationUser = (me: Me): boolean => Array.isArray(me.sites);

/** the follow-up form: an operator of the station (a station-scoped one for its own stations) or of the center on its behalf, until the item is closed */
export function canFollowUp(me: Me, item: RiskItem): boolean {
  if (item.state === 'closed' || me.role === 'viewer') return false;
  return !isStationUser(me) || me.sites!.includes(item.station);
}

/** verify / reject: the center (an operator or admin bound to no station), once the station has answered */
export const canVerify = (me: Me, item: RiskItem): boolean => !isStationUser(me) && me.role !== 'viewer' && item.state === 'answered';

/** the "compute now" button: the center's operators */
export const canCompute = (me: Me): boolean => !isStationUser(me) && me.role !== 'viewer';

// ---------------------------------------------------------------- words and numbers
export const codeText = (c: RiskCode | null): string => t(`rk_code_${c ?? 'none'}` as MsgKey);

/** the code as a coloured badge that also says it in words (not only colour) */
export function codeBadge(c: RiskCode | null): HTMLElement {
  return el('span', { class: `rcode rc-${c ?? 'none'}`, 'data-code': c ?? 'none' }, el('i', { 'aria-hidden': 'true' }), codeText(c));
}

export function indicatorName(id: string | null): string {
  if (!id) return '—';
  const k = `rk_ind_${id}`;
  return hasKey(k) ? t(k) : id;
}

export function indicatorUnit(id: string): string {
  const k = `rk_unit_${id}`;
  return hasKey(k) ? t(k) : '';
}

export const keyed = (prefix: string, code: string): string => (hasKey(`${prefix}${code}`) ? t(`${prefix}${code}` as MsgKey) : code);

export function num(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toLocaleString(locale(), { maximumFractionDigits: digits });
}

export function deltaText(score: number | null, prev: number | null): { text: string; cls: string } {
  if (score === null || prev === null) return { text: '—', cls: 'delta' };
  const d = Math.round((score - prev) * 100) / 100;
  return { text: `${d > 0 ? '▲ +' : d < 0 ? '▼ ' : '± '}${num(d)}`, cls: `delta ${d > 0 ? 'up' : d < 0 ? 'down' : ''}` };
}

export function timeText(ms: number | null | undefined): string {
  if (!ms) return '—';
  return new Date(ms).toLocaleString(locale(), { hour12: false, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}

/** today in the model's zone (China Standard Time unless the model says otherwise): the ranking's default day */
export function localToday(offset = '+08:00'): string {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  const ms = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000 : 8 * 3_600_000;
  return new Date(Date.now() + ms).toISOString().slice(0, 10);
}

/** the day `n` days after `day` (negative: before), YYYY-MM-DD */
export const addDays = (day: string, n: number): string => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

// ---------------------------------------------------------------- sparkline
const SVG = 'http://www.w3.org/2000/svg';
const svg = <K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string>): SVGElementTagNameMap[K] => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};

/** The last scores as a small line on a 0–100 scale, the yellow and red thresholds as faint lines; gaps where a day had no score. */
export function sparkline(values: readonly (number | null)[], th: { yellow: number; red: number } | null, w = 120, h = 28): SVGSVGElement {
  const root = svg('svg', { class: 'spark', width: String(w), height: String(h), viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': values.map((v) => (v === null ? '—' : num(v, 1))).join(' ') });
  const y = (v: number) => (h - 2 - (Math.max(0, Math.min(100, v)) / 100) * (h - 4)).toFixed(1);
  if (th) for (const [k, v] of [['yellow', th.yellow], ['red', th.red]] as const) root.append(svg('line', { class: `th th-${k}`, x1: '0', x2: String(w), y1: y(v), y2: y(v) }));
  const n = values.length;
  const x = (i: number) => (n <= 1 ? w / 2 : 2 + (i * (w - 4)) / (n - 1)).toFixed(1);
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(i)} ${y(v)} `;
    pen = true;
  });
  if (d) root.append(svg('path', { d: d.trim(), class: 'line' }));
  const last = [...values].reverse().find((v) => v !== null);
  const lastIdx = values.lastIndexOf(last ?? null);
  if (last !== undefined && last !== null) root.append(svg('circle', { cx: x(lastIdx), cy: y(last), r: '2.5', class: 'last' }));
  return root;
}

/** A 0–100 bar (an indicator's normalised risk level). */
export function levelBar(v: number | null): HTMLElement {
  const fill = el('div', { class: 'fill' });
  fill.style.width = `${v === null ? 0 : Math.max(0, Math.min(100, v))}%`;
  return el('div', { class: `rbar ${v === null ? 'na' : v >= 66 ? 'hi' : v >= 33 ? 'mid' : 'lo'}`, role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': v === null ? '' : String(v) }, fill);
}

/** "failed: message" / "not found" for a REST error */
export function failText(e: unknown): string {
  return (e as { status?: number }).status === 404 ? t('rk_notFound') : t('rk_failed', { msg: (e as Error).message });
}
