/**
 * The line loss of one area over one interval, and its live estimate: pure
 * functions over the meters' readings (docs/energy.md, Definitions).
 *
 * supply = transformer import − transformer export + sales meters' export (PV fed in by customers)
 * sales  = sales meters' import
 * loss % = (supply − sales) / supply × 100
 */
import { counterEnergy, type CounterSeries, cleanSeries } from './counter.ts';
import { INTERVAL_MS, type Area, type CounterEvent, type IntervalKind, type LineLossOptions, type LineLossReason, type LineLossRecord, type LiveLineLoss } from './types.ts';

/** The energy counters of one meter (absent: the meter sent none in the window read). */
export interface MeterCounters {
  ep_imp?: CounterSeries;
  ep_exp?: CounterSeries;
}

/** kWh rounded to the µWh: float noise of sums (0.1 + 0.2) never shows in a stored figure. */
export function roundKwh(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

export function roundPct(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The figures of a complete interval; null for loss when supply is not positive. */
export function lossOf(supplyKwh: number, salesKwh: number): { lossKwh: number; lossPct: number | null } {
  const lossKwh = roundKwh(supplyKwh - salesKwh);
  return { lossKwh, lossPct: supplyKwh > 0 ? roundPct(((supplyKwh - salesKwh) / supplyKwh) * 100) : null };
}

/**
 * One interval [start, start + length) of an area from its meters' counters.
 * A meter missing at either end, or a counter that restarted from an unknown
 * value, makes the interval incomplete: no figure, the meters named.
 */
export function computeInterval(
  area: Area,
  counters: ReadonlyMap<string, MeterCounters>,
  interval: IntervalKind,
  start: number,
  opts: LineLossOptions,
  computedAt: number,
): LineLossRecord {
  const end = start + INTERVAL_MS[interval];
  const meters = (area.supplyMeter ? 1 : 0) + area.salesMeters.length;
  const rec: LineLossRecord = {
    site: area.site, room: area.room, transformer: area.transformer, interval, start, end,
    complete: false, supplyKwh: null, salesKwh: null, lossKwh: null, lossPct: null,
    meters, missing: [], events: [], computedAt,
  };
  if (!area.supplyMeter) return { ...rec, reason: 'no_transformer_meter' };
  if (area.salesMeters.length === 0) return { ...rec, reason: 'no_sales_meters' };
  const missing = new Set<string>();
  const events: CounterEvent[] = [];
  let replaced = false;
  /** kWh of one counter, null when it cannot be had; `required`: a meter without the counter at all is missing */
  const energy = (device: string, quantity: 'ep_imp' | 'ep_exp', required: boolean): number | null => {
    const raw = counters.get(device)?.[quantity];
    if (!raw || raw.ts.length === 0) {
      if (required) missing.add(device);
      return required ? null : 0;
    }
    const r = counterEnergy(cleanSeries(raw), start, end, opts);
    if (!r.ok && r.why === 'missing') {
      missing.add(device);
      return null;
    }
    for (const e of r.ok || r.why === 'replaced' ? r.events : []) events.push({ device, quantity, ...e });
    if (!r.ok) {
      replaced = true;
      return null;
    }
    return r.kwh;
  };
  let supply = 0;
  let sales = 0;
  const tImp = energy(area.supplyMeter, 'ep_imp', true);
  const tExp = energy(area.supplyMeter, 'ep_exp', false);
  supply += (tImp ?? 0) - (tExp ?? 0);
  for (const m of area.salesMeters) {
    sales += energy(m, 'ep_imp', true) ?? 0;
    supply += energy(m, 'ep_exp', false) ?? 0;
  }
  rec.missing = [...missing].sort();
  rec.events = events.sort((a, b) => a.at - b.at || (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  if (rec.missing.length) return { ...rec, reason: 'missing_readings' };
  if (replaced) return { ...rec, reason: 'counter_replaced' };
  const supplyKwh = roundKwh(supply);
  const salesKwh = roundKwh(sales);
  const { lossKwh, lossPct } = lossOf(supplyKwh, salesKwh);
  const out: LineLossRecord = { ...rec, complete: true, supplyKwh, salesKwh, lossKwh, lossPct };
  if (lossPct === null) out.reason = 'no_supply';
  return out;
}

/**
 * The live estimate of an area from each meter's mean active power (kW,
 * positive = import) over one minute: supply = transformer p + the sales
 * meters' export (negative p), sales = their import. Every meter needs a mean.
 */
export function liveEstimate(area: Area, meanKw: ReadonlyMap<string, number>, start: number): LiveLineLoss {
  const out: LiveLineLoss = { site: area.site, room: area.room, transformer: area.transformer, start, complete: false, supplyKw: null, salesKw: null, lossPct: null, missing: [] };
  if (!area.supplyMeter) return { ...out, reason: 'no_transformer_meter' };
  if (area.salesMeters.length === 0) return { ...out, reason: 'no_sales_meters' };
  const missing = [area.supplyMeter, ...area.salesMeters].filter((m) => meanKw.get(m) === undefined).sort();
  if (missing.length) return { ...out, missing, reason: 'missing_readings' as LineLossReason };
  let supply = meanKw.get(area.supplyMeter)!;
  let sales = 0;
  for (const m of area.salesMeters) {
    const p = meanKw.get(m)!;
    if (p >= 0) sales += p;
    else supply -= p;
  }
  const supplyKw = roundKwh(supply);
  const salesKw = roundKwh(sales);
  const pct = supplyKw > 0 ? roundPct(((supplyKw - salesKw) / supplyKw) * 100) : null;
  const res: LiveLineLoss = { ...out, complete: true, supplyKw, salesKw, lossPct: pct };
  if (pct === null) res.reason = 'no_supply';
  return res;
}
