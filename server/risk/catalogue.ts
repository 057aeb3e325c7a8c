/**
 * The service-risk indicators the code knows (docs/risk.md, Indicators).
 *
 * A risk-model file may only name these ids. Each has a fixed direction (a
 * higher value is worse, or a lower one) and says whether gridwatch has its
 * input yet: an indicator with `available: false` may be listed and weighted
 * in the file, but every station reports it as "no data" and its weight does
 * not count until its input exists — no value is ever invented for it.
 */

import { RISK_DIMENSIONS, type RiskDimension } from '../../contract/risk.ts';

// the dimensions are the wire's (contract/risk.ts)
export { RISK_DIMENSIONS, type RiskDimension };

export type RiskDirection = 'higher-is-worse' | 'lower-is-worse';

export interface IndicatorInfo {
  /** the dimension it belongs to unless the file says otherwise */
  dimension: RiskDimension;
  direction: RiskDirection;
  unit: string;
  /** false: gridwatch has no input for it yet (reported as "no data") */
  available: boolean;
  /** where its value comes from, one line */
  source: string;
}

export const INDICATORS = {
  'repair-calls-per-1000': {
    dimension: 'demand', direction: 'higher-is-worse', unit: 'calls / 1,000 customers', available: true,
    source: 'outage pool: repair calls of the period ÷ the station\'s customers × 1,000',
  },
  'repeated-calls': {
    dimension: 'demand', direction: 'higher-is-worse', unit: 'calls', available: true,
    source: 'outage pool: repair calls from a customer (or meter) who called before within the repeat window',
  },
  'complaints': {
    dimension: 'demand', direction: 'higher-is-worse', unit: 'tickets', available: false,
    source: 'complaint tickets (no complaint channel in gridwatch yet)',
  },
  'frequent-outage-customers': {
    dimension: 'demand', direction: 'higher-is-worse', unit: 'customers', available: true,
    source: 'outage pool: customers flagged for frequent outages',
  },
  'fault-outages': {
    dimension: 'demand', direction: 'higher-is-worse', unit: 'outages', available: true,
    source: 'outage pool: fault (unplanned) outage records of the period',
  },
  'customer-hours': {
    dimension: 'demand', direction: 'higher-is-worse', unit: 'customer-hours', available: true,
    source: 'outage pool: Σ customers affected × hours, fault outages',
  },
  'notices-late-or-wrong': {
    dimension: 'handling', direction: 'higher-is-worse', unit: 'notices', available: true,
    source: 'outage pool: planned-outage notices sent late or not matching the outage that happened',
  },
  'ack-time-mean': {
    dimension: 'speed', direction: 'higher-is-worse', unit: 'min', available: true,
    source: 'alarm journal: mean time from raise to acknowledge',
  },
  'escalations': {
    dimension: 'handling', direction: 'higher-is-worse', unit: 'alarms', available: true,
    source: 'alarm journal: alarms escalated for being unacknowledged too long',
  },
  'unacknowledged-alarms': {
    dimension: 'handling', direction: 'higher-is-worse', unit: 'alarms', available: true,
    source: 'alarm journal: alarms cleared or still active without ever being acknowledged',
  },
  'one-key-calls': {
    dimension: 'demand', direction: 'higher-is-worse', unit: 'calls', available: true,
    source: 'alarm journal: one-key calls from stations\' rooms',
  },
  'one-key-answer-time': {
    dimension: 'speed', direction: 'higher-is-worse', unit: 's', available: true,
    source: 'alarm journal: mean time from a one-key call to its being taken',
  },
  'voltage-qualification': {
    dimension: 'handling', direction: 'lower-is-worse', unit: '%', available: true,
    source: 'voltage quality: the station\'s time-weighted voltage qualification rate',
  },
  'abnormal-loss-areas': {
    dimension: 'handling', direction: 'higher-is-worse', unit: 'areas', available: true,
    source: 'energy: transformer areas whose line loss is abnormal (negative or above the limit)',
  },
  'heavy-load-hours': {
    dimension: 'handling', direction: 'higher-is-worse', unit: 'h', available: true,
    source: 'stored readings: hours with a transformer\'s mean load rate at or above 80 % (overload among them), summed over the station\'s transformers',
  },
  'meter-comm-availability': {
    dimension: 'handling', direction: 'lower-is-worse', unit: '%', available: true,
    source: 'stored readings: share of 15-minute intervals in which each transformer and line meter of the station sent a reading',
  },
} as const satisfies Record<string, IndicatorInfo>;

export type IndicatorId = keyof typeof INDICATORS;

export const INDICATOR_IDS = Object.keys(INDICATORS) as IndicatorId[];

export function isIndicatorId(x: unknown): x is IndicatorId {
  return typeof x === 'string' && Object.hasOwn(INDICATORS, x);
}

export function indicatorInfo(id: IndicatorId): IndicatorInfo {
  return INDICATORS[id];
}
