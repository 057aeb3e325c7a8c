/**
 * Line loss per transformer area (台区线损): the figures, their intervals and
 * the options of the computation (docs/energy.md).
 */

export type IntervalKind = '15m' | '1h' | '1d';
export const INTERVAL_KINDS: readonly IntervalKind[] = ['15m', '1h', '1d'];
export const INTERVAL_MS: Readonly<Record<IntervalKind, number>> = { '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 };

/** What happened to an energy counter inside an interval. */
export type CounterEventKind =
  /** went back to (near) zero: energy before it + its value after, counted from zero */
  | 'reset'
  /** wrapped past a power of ten (999 999.99 → 0.xx): counted through the wrap */
  | 'rollover'
  /** restarted from another value (a replaced meter): the energy between the two polls is unknown */
  | 'replaced';

export interface CounterEvent {
  device: string;
  quantity: 'ep_imp' | 'ep_exp';
  kind: CounterEventKind;
  /** epoch ms of the first reading after the counter went back */
  at: number;
  /** the counter before and after, kWh */
  from: number;
  to: number;
}

/** Why an interval has no loss rate. */
export type LineLossReason =
  /** a meter of the area has no reading within the tolerance of one of the interval's ends (`missing` names them) */
  | 'missing_readings'
  /** a counter restarted from an unrelated value inside the interval (`events` names it) */
  | 'counter_replaced'
  /** the topology gives the transformer no meter */
  | 'no_transformer_meter'
  /** the topology gives the area neither customer nor line meters */
  | 'no_sales_meters'
  /** supply energy zero or less: a rate is not defined */
  | 'no_supply';

/** One transformer area: its supply (transformer) meter and its sales meters. */
export interface Area {
  site: string;
  room: string;
  transformer: string;
  /** the transformer's low-side meter; absent → no figure can be computed */
  supplyMeter?: string;
  /** customer meters under the transformer where the topology has any, else its line meters */
  salesMeters: string[];
  /** which kind of meter `salesMeters` are */
  salesBasis: 'customers' | 'lines';
}

/** One interval of one area: the stored `line_loss` point. */
export interface LineLossRecord {
  site: string;
  room: string;
  transformer: string;
  interval: IntervalKind;
  /** epoch ms, inclusive */
  start: number;
  /** epoch ms, exclusive */
  end: number;
  /** complete: every meter had readings at both ends; only then are the figures given */
  complete: boolean;
  /** kWh into the area: transformer import − transformer export + customers' export (PV) */
  supplyKwh: number | null;
  /** kWh sold: the sales meters' import */
  salesKwh: number | null;
  lossKwh: number | null;
  /** (supply − sales) / supply × 100, two decimals; null when incomplete or without supply */
  lossPct: number | null;
  /** meters of the area (supply meter included) */
  meters: number;
  /** meters without a reading within the tolerance of an end, sorted */
  missing: string[];
  events: CounterEvent[];
  reason?: LineLossReason;
  /** server time of the computation, epoch ms */
  computedAt: number;
}

export interface LineLossOptions {
  /** a boundary's counter value is taken from readings at most this far from it, ms */
  toleranceMs: number;
  /** a counter that goes back to at most this many kWh restarted from zero (reset); above it, from an unknown value (replaced) */
  resetMaxKwh: number;
  /** a counter at or above (1 − band)·10ⁿ that goes back to at most band·10ⁿ wrapped at 10ⁿ */
  rolloverBand: number;
}

export const DEFAULT_LINE_LOSS_OPTIONS: Readonly<LineLossOptions> = { toleranceMs: 120_000, resetMaxKwh: 10, rolloverBand: 0.01 };

/** The live estimate of an area from the mean power of its meters over one minute. */
export interface LiveLineLoss {
  site: string;
  room: string;
  transformer: string;
  /** epoch ms: the minute [start, start + 60 s) the means are of */
  start: number;
  complete: boolean;
  supplyKw: number | null;
  salesKw: number | null;
  lossPct: number | null;
  missing: string[];
  reason?: LineLossReason;
}
