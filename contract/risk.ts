/**
 * Service-risk code of supply stations on the wire (docs/risk.md): a
 * station's computed day, the ranking of the stations, risk items with their
 * follow-up, and the REST paths that carry them. The server computes and
 * keeps these; the dashboard and the reports read them.
 */

export const RISK_CODES = ['green', 'yellow', 'red'] as const;
export type RiskCode = (typeof RISK_CODES)[number];

export const RISK_DIMENSIONS = ['demand', 'handling', 'speed'] as const;
export type RiskDimension = (typeof RISK_DIMENSIONS)[number];

/** scored | no value for this station | no input in gridwatch | not a finite number */
export type RiskIndicatorStatus = 'ok' | 'no-data' | 'not-available' | 'invalid';

/** One indicator of one station's day (ids: the catalogue in docs/risk.md). */
export interface RiskIndicatorValue {
  id: string;
  dimension: RiskDimension;
  weight: number;
  status: RiskIndicatorStatus;
  value: number | null;
  /** 0 (good) – 100 (bad) */
  normalised: number | null;
  /** its share of the score; the contributions add up to the score */
  contribution: number | null;
}

/** How a day's figures came to be: the daily run, an operator's run, or today's running figure. */
export type RiskRunKind = 'daily' | 'on-demand' | 'provisional';

/** One station's computed day: what the history keeps, one per station and day. */
export interface StationRiskDay {
  station: string;
  /** the station's day, YYYY-MM-DD in the model's time zone */
  day: string;
  /** ms since the epoch */
  computedAt: number;
  run: RiskRunKind;
  /** the window the indicators cover, ms since the epoch, [from, to) */
  window: { from: number; to: number };
  /** 0–100 rounded to 0.01; null: less than minCoverage of the weight had data */
  score: number | null;
  coverage: number;
  rawCode: RiskCode | null;
  /** after hysteresis: what the station shows; null without a score */
  code: RiskCode | null;
  /** the indicator with the largest contribution; null when nothing contributes */
  driving: string | null;
  dimensions: Record<RiskDimension, number | null>;
  indicators: RiskIndicatorValue[];
}

/** One row of the station ranking (worst first). */
export interface RiskRankingRow {
  station: string;
  name: string;
  day: string;
  code: RiskCode | null;
  score: number | null;
  /** score of the previous day with a score; null when none */
  previousScore: number | null;
  /** the last scores, oldest first (for the trend line), up to 30 */
  trend: (number | null)[];
  driving: string | null;
  /** days of the day's calendar month (up to the day) with code red or yellow */
  highRiskDaysThisMonth: number;
  /** more than 7 high-risk days in the month: singled out */
  flagged: boolean;
  openItems: number;
}

export interface RiskRanking {
  day: string;
  computedAt: number | null;
  rows: RiskRankingRow[];
}

/**
 * A risk item: opened when a station's code turns yellow or red, assigned to
 * the station's responsible people, answered by the station, verified and
 * closed by the center.
 *
 * open → answered (a follow-up recorded) → closed (verified)
 *                  ↘ rejected verification → open again
 * An item not answered by its due time is escalated (it stays open).
 */
export const RISK_ITEM_STATES = ['open', 'answered', 'closed'] as const;
export type RiskItemState = (typeof RISK_ITEM_STATES)[number];

/**
 * A step the system made on an item, as a kind with its parameters, for the
 * reader to say in its own language (the dashboard's `rk_step_<k>`, the
 * reports' step words); the event's `text` stays the English sentence, for
 * the log and older clients. Parameters: `code` `from` `to` risk codes, `day`
 * YYYY-MM-DD, `driving` an indicator id, `station` a station id, `names`
 * `roles` `dutyRoles` `ids` `reasons` lists, `due` ms since the epoch, `n` a
 * count, `notice` the event kind the notice is for (`opened` | `escalated`).
 */
export const RISK_STEP_KINDS = ['opened', 'assigned', 'assigned_on_duty', 'unassigned', 'code_changed', 'escalated', 'notified', 'notice_refused', 'nobody_to_notify'] as const;
export type RiskStepKind = (typeof RISK_STEP_KINDS)[number];
export interface RiskStep {
  k: RiskStepKind;
  p: Record<string, string | number | string[]>;
}

export interface RiskItemEvent {
  /** ms since the epoch */
  at: number;
  /** user name, or "system" */
  by: string;
  kind: 'opened' | 'assigned' | 'follow-up' | 'verified' | 'rejected' | 'escalated' | 'notified' | 'code-changed' | 'closed';
  /** people's words (follow-up, verification note) as written; the system's steps in English */
  text?: string;
  /** a system step as a kind with parameters (absent on people's steps and on `closed`) */
  ev?: RiskStep;
}

export interface RiskItem {
  id: string;
  station: string;
  /** the code that opened it, and the code the station shows now */
  openedCode: RiskCode;
  code: RiskCode | null;
  /** the day whose computation opened it */
  day: string;
  driving: string | null;
  state: RiskItemState;
  openedAt: number;
  /** answer due; past it while open → escalated */
  dueAt: number;
  escalated: boolean;
  /** contact-directory people the item is assigned to */
  assignees: { id: string; name: string }[];
  closedAt: number | null;
  events: RiskItemEvent[];
}

/** REST paths (docs/api.md, Risk) */
export const RISK_PATHS = {
  ranking: '/api/risk/ranking',
  station: '/api/risk/stations/:station',
  compute: '/api/risk/compute',
  model: '/api/risk/model',
  items: '/api/risk/items',
  item: '/api/risk/items/:id',
  followUp: '/api/risk/items/:id/follow-up',
  verify: '/api/risk/items/:id/verify',
  reportStation: '/api/risk/reports/station/:station',
  reportDaily: '/api/risk/reports/daily',
  reportWeekly: '/api/risk/reports/weekly',
  reportMonthly: '/api/risk/reports/monthly',
} as const;
