/**
 * What the page knows about values: wire types (type-only imports, so
 * nothing of the server or the contract's validators lands in the bundle),
 * quantity display data, load-rate classes and freshness. Pure: time comes in
 * as an argument.
 */
import type { Quantity, Topology, Site, Room, Transformer, Line } from '../../contract/index.ts';
import type { LiveReading, ServerFrame } from '../../contract/frames.ts';
import { t, type MsgKey } from './i18n.ts';

export type { Quantity, Topology, Site, Room, Transformer, Line, LiveReading, ServerFrame };

/**
 * Load-rate limits, % (State Grid practice; docs/alarms.md, Built-in rules):
 * heavy load (重载) above 80 %, overload (过载) above 100 %. The rule engine
 * adds a duration before it alarms; the colour shows the instantaneous value.
 */
export const HEAVY_LOAD_PCT = 80;
export const OVERLOAD_PCT = 100;

/** the load-rate limits as chart lines, coloured like the bars (style.css --lc-heavy, --lc-over) */
export const LOAD_LIMIT_LINES = [
  { value: HEAVY_LOAD_PCT, color: '#f59f00aa' },
  { value: OVERLOAD_PCT, color: '#ff3355cc' },
];

export type LoadClass = 'normal' | 'heavy' | 'over' | 'none';

export function loadClass(rate: number | undefined): LoadClass {
  if (rate === undefined || !Number.isFinite(rate)) return 'none';
  if (rate > OVERLOAD_PCT) return 'over';
  if (rate > HEAVY_LOAD_PCT) return 'heavy';
  return 'normal';
}

/** Phase colours as on Chinese switchgear (A yellow, B green, C red); kept in sync with style.css. */
export const PHASE_COLOURS = { a: '#f2c200', b: '#2fb344', c: '#e5484d', n: '#4aa3ff' } as const;

export type Phase = keyof typeof PHASE_COLOURS;

/** The phase a quantity belongs to; line voltages take the colour of their first phase. */
export function phaseOf(q: string): Phase | null {
  switch (q) {
    case 'ua': case 'ia': case 'pa': case 'uab': return 'a';
    case 'ub': case 'ib': case 'pb': case 'ubc': return 'b';
    case 'uc': case 'ic': case 'pc': case 'uca': return 'c';
    case 'in': return 'n';
    default: return null;
  }
}

export interface QuantityInfo {
  /** label as on a meter's display */
  label: string;
  unit: string;
  digits: number;
  group: MsgKey;
}

// Units as in contract/quantities.ts; repeated here (not imported) so the
// page does not bundle the contract's validators. Keyed by string, not
// Record<Quantity, …>: a quantity the contract adds (e.g. lost_readings, an
// agent's spool count, not a meter value for the chart picker) is shown with
// a generic label until it gets an entry here, instead of breaking the build.
const Q: Partial<Record<string, QuantityInfo>> & { load_rate: QuantityInfo } = {
  ua: { label: 'Ua', unit: 'V', digits: 1, group: 'g_voltage' },
  ub: { label: 'Ub', unit: 'V', digits: 1, group: 'g_voltage' },
  uc: { label: 'Uc', unit: 'V', digits: 1, group: 'g_voltage' },
  uab: { label: 'Uab', unit: 'V', digits: 1, group: 'g_lineVoltage' },
  ubc: { label: 'Ubc', unit: 'V', digits: 1, group: 'g_lineVoltage' },
  uca: { label: 'Uca', unit: 'V', digits: 1, group: 'g_lineVoltage' },
  ia: { label: 'Ia', unit: 'A', digits: 1, group: 'g_current' },
  ib: { label: 'Ib', unit: 'A', digits: 1, group: 'g_current' },
  ic: { label: 'Ic', unit: 'A', digits: 1, group: 'g_current' },
  in: { label: 'In', unit: 'A', digits: 1, group: 'g_current' },
  p: { label: 'P', unit: 'kW', digits: 1, group: 'g_power' },
  pa: { label: 'Pa', unit: 'kW', digits: 1, group: 'g_power' },
  pb: { label: 'Pb', unit: 'kW', digits: 1, group: 'g_power' },
  pc: { label: 'Pc', unit: 'kW', digits: 1, group: 'g_power' },
  q: { label: 'Q', unit: 'kvar', digits: 1, group: 'g_power' },
  s: { label: 'S', unit: 'kVA', digits: 1, group: 'g_power' },
  pf: { label: 'PF', unit: '', digits: 3, group: 'g_quality' },
  f: { label: 'f', unit: 'Hz', digits: 2, group: 'g_quality' },
  u_unbalance: { label: 'εU', unit: '%', digits: 2, group: 'g_quality' },
  i_unbalance: { label: 'εI', unit: '%', digits: 1, group: 'g_quality' },
  load_rate: { label: 'η', unit: '%', digits: 1, group: 'g_load' },
  ep_imp: { label: 'Ep+', unit: 'kWh', digits: 1, group: 'g_energy' },
  ep_exp: { label: 'Ep−', unit: 'kWh', digits: 1, group: 'g_energy' },
  temp: { label: 'T', unit: '°C', digits: 1, group: 'g_env' },
  humidity: { label: 'RH', unit: '%', digits: 0, group: 'g_env' },
  t_oil: { label: 't_oil', unit: '°C', digits: 1, group: 'g_env' },
  t_winding: { label: 't_winding', unit: '°C', digits: 1, group: 'g_env' },
  door: { label: 'door', unit: '', digits: 0, group: 'g_env' },
  water: { label: 'water', unit: '', digits: 0, group: 'g_env' },
  smoke: { label: 'smoke', unit: '', digits: 0, group: 'g_env' },
};

export const QUANTITY_LIST = Object.keys(Q) as Quantity[];

/** quantities whose label is a word, shown in the page's language (the others are symbols, the same in both) */
const WORD_LABELS: Partial<Record<string, MsgKey>> = { load_rate: 'loadRate', t_oil: 'ql_t_oil', t_winding: 'ql_t_winding', door: 'door', water: 'water', smoke: 'smoke' };

export function qinfo(q: string): QuantityInfo {
  const info = Q[q] ?? { label: q, unit: '', digits: 2, group: 'g_quality' };
  const word = WORD_LABELS[q];
  return word ? { ...info, label: t(word) } : info;
}

export function isKnownQuantity(q: string): q is Quantity {
  return Object.prototype.hasOwnProperty.call(Q, q);
}

export function fmt(v: number | undefined, digits: number): string {
  return v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits);
}

// ------------------------------------------------------------------ freshness

/** How a value may be shown: `offline` = the page itself has lost the server. */
export type Freshness = 'good' | 'stale' | 'comm_loss' | 'none' | 'offline';

/**
 * A good reading older than this is shown as stale: the demo agents poll
 * every second, so ten seconds is several missed polls. A device that reports
 * more slowly gets three of its own intervals (see `staleAfter`).
 */
export const STALE_AFTER_MS = 10_000;

export function staleAfter(observedIntervalMs: number | undefined): number {
  return Math.max(STALE_AFTER_MS, 3 * (observedIntervalMs ?? 0));
}

/**
 * The freshness of a device's latest reading at `now` (server clock, epoch ms).
 * Only a good reading that is recent, received while the page is connected,
 * is live; anything else is shown greyed with its age.
 */
export function freshness(r: LiveReading | undefined, now: number, connected: boolean, intervalMs?: number): Freshness {
  if (!r) return 'none';
  if (r.q !== 'good') return r.q;
  if (now - r.ts > staleAfter(intervalMs)) return 'stale';
  return connected ? 'good' : 'offline';
}

/** The instant a shown value was last known good, for its age label. */
export function goodSince(r: LiveReading): number {
  return r.goodTs ?? r.ts;
}

export function ageText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return t('ago_s', { n: s });
  if (s < 3600) return t('ago_m', { n: Math.floor(s / 60) });
  if (s < 86_400) return t('ago_h', { n: Math.floor(s / 3600) });
  return t('ago_d', { n: Math.floor(s / 86_400) });
}

export function freshLabel(f: Freshness): string {
  return t(`q_${f}` as MsgKey);
}

/**
 * Outage as seen from the live values: a meter reading good but with every
 * phase voltage below half the nominal. The rule engine correlates outages
 * by topology; this only marks what the values already say.
 */
export function isOutage(r: LiveReading | undefined, nominalV = 220): boolean {
  if (!r || r.q !== 'good') return false;
  const { ua, ub, uc } = r.v;
  if (ua === undefined || ub === undefined || uc === undefined) return false;
  return Math.max(ua, ub, uc) < nominalV / 2;
}
