/**
 * What the reports read (docs/risk.md, Reports): the stations, their
 * computed days, the day's ranking and the risk items. The running server
 * adapts its risk runtime to this port; tests may hand in plain values.
 * Each method may answer directly or with a promise.
 */
import type { RiskItem, RiskRanking, StationRiskDay } from '../../../contract/risk.ts';

type MaybePromise<T> = T | Promise<T>;

export interface ReportModelInfo {
  thresholds: { yellow: number; red: number };
  /** UTC offset of the stations' day, ±HH:MM */
  timezone: string;
}

export interface RiskReportSource {
  /** thresholds and time zone of the risk model */
  model(): ReportModelInfo;
  /** every station in topology order */
  stations(): readonly { id: string; name: string }[];
  /** the latest day with computed figures, null before the first run */
  latestDay(): MaybePromise<string | null>;
  /** a station's computed days from `from` to `to` (inclusive, YYYY-MM-DD), oldest first */
  history(station: string, from: string, to: string): MaybePromise<readonly StationRiskDay[]>;
  /** every station's computed days from `from` to `to` in one read (optional: else `history` per station) */
  historyAll?(from: string, to: string): MaybePromise<readonly StationRiskDay[]>;
  /** the ranking of a day (every station; rows without a computed day have no code) */
  ranking(day: string): MaybePromise<RiskRanking>;
  /** risk items of every station; empty where items are not kept */
  items(): MaybePromise<readonly RiskItem[]>;
}
