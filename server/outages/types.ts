/**
 * The outage pool's model (docs/outages.md): measured outages, planned
 * outages and their lifecycle, topology-mismatch findings, repair tickets,
 * and the pool's options. Plain data; times are epoch ms (server clock).
 */
import type { Customer } from '../../contract/index.ts';

// ---------------------------------------------------------------- scope

export type ScopeKind = 'feeder' | 'transformer' | 'line' | 'meter';

/** What an outage covers: one feeder, one transformer, one low-voltage line or one meter. */
export interface OutageScope {
  kind: ScopeKind;
  /** '' for a feeder whose transformers lie in several sites */
  site: string;
  feeder?: string;
  transformer?: string;
  line?: string;
  meter?: string;
}

/** One element of a plan's scope: a feeder, a transformer or a line (of a site). */
export type PlanScopeElement =
  | { kind: 'feeder'; feeder: string }
  | { kind: 'transformer'; site: string; transformer: string }
  | { kind: 'line'; site: string; line: string };

// ---------------------------------------------------------------- planned outages

export const PLAN_STATES = ['draft', 'confirmed', 'notified', 'in_progress', 'done', 'cancelled', 'overrun', 'not_executed'] as const;
export type PlanState = (typeof PLAN_STATES)[number];

/** A change of the affected list after a topology or customer reload, waiting for an operator's confirmation. */
export interface AffectedChange {
  at: number;
  added: string[];
  removed: string[];
}

/**
 * Notices a change of a plan or outage owes that the notification service has
 * not taken yet. Journaled with the change itself and cleared by the entry
 * that records the hand-over, so a restart (or a crash) in between retries
 * them; their idempotency keys keep every notice single.
 */
export interface OwedNotices {
  purpose: 'outage_planned' | 'outage_cancelled' | 'outage_extended' | 'outage_restored';
  customers: string[];
}

export interface Plan {
  id: string;
  /** the sites the scope touches (for station scoping and filters) */
  sites: string[];
  scope: PlanScopeElement[];
  /** planned window, epoch ms */
  start: number;
  end: number;
  reason: string;
  workOrder: string;
  crew: string;
  state: PlanState;
  /** notice lead (confirmation to start) shorter than `noticeLeadDays` */
  late: boolean;
  /** the affected customers as computed now (ids, important first) */
  customers: string[];
  /** the list an operator confirmed last (notices went to these) */
  confirmedCustomers: string[];
  /** set after a reload changed the affected list of a confirmed plan: confirm again to notify the added ones */
  pendingChange: AffectedChange | null;
  createdBy: string;
  createdAt: number;
  confirmedBy?: string;
  confirmedAt?: number;
  /** when measured supply dropped / came back in its scope */
  startedAt?: number;
  restoredAt?: number;
  cancelledBy?: string;
  cancelledAt?: number;
  cancelReason?: string;
  /** the measured outages reconciled with this plan */
  outages: string[];
  /** warnings given when it was created or changed (late notice, overlap) */
  warnings: string[];
  /** notices not yet taken by the notification service (retried each tick and after a restart) */
  handOver?: OwedNotices[];
}

// ---------------------------------------------------------------- measured outages

export type OutageCause = 'planned' | 'fault' | 'unknown';
export type OutageState = 'active' | 'restored' | 'merged';

export interface OutageRecord {
  id: string;
  scope: OutageScope;
  /** the transformers (`site/transformer`) it covers */
  transformers: string[];
  /** the meters seen dark */
  meters: string[];
  cause: OutageCause;
  planId?: string;
  start: number;
  end?: number;
  state: OutageState;
  /** parent outage: the customers still dark after it was restored */
  nested?: string;
  /** a transformer outage that became part of a feeder outage */
  mergedInto?: string;
  /** affected customer ids */
  customers: string[];
  important: number;
  findings: string[];
  tickets: string[];
  /** the alarm of the outage correlation it comes from */
  alarmIds: string[];
  /** at restoration: customers measured back, still dark, not measured */
  restoration?: { back: string[]; dark: string[]; unmeasured: string[] };
  /** notices not yet taken by the notification service (retried each tick and after a restart) */
  handOver?: OwedNotices[];
}

// ---------------------------------------------------------------- findings and tickets

export type FindingKind = 'live_inside' | 'dark_outside' | 'negative_loss';

/** A line-loss figure that showed an area's negative loss (loss-findings.ts). */
export interface LossEvidence {
  interval: string;
  start: number;
  end: number;
  supplyKwh: number;
  salesKwh: number;
  lossPct: number;
}

export interface FindingEvidence {
  outageId: string;
  outageStart: number;
  /** when the meter was seen live inside the dark scope / went dark outside it (epoch ms) */
  at: number;
  /** largest phase voltage, V, at `at` */
  voltage: number | null;
}

export interface Finding {
  id: string;
  meter: string;
  kind: FindingKind;
  /** where the topology places the meter */
  modelled: { site: string; transformer: string; line?: string } | null;
  /** where the measurement suggests it is: the scope of the outage it went dark with */
  suggested: { site: string; transformer?: string; feeder?: string } | null;
  message: string;
  /** the outages it was seen in (none for negative_loss) */
  evidence: FindingEvidence[];
  /** negative_loss: the area (the finding's `meter` is its key `site/transformer`) and the figures that showed it */
  area?: { site: string; transformer: string };
  loss?: LossEvidence[];
  state: 'open' | 'resolved';
  firstAt: number;
  lastAt: number;
  resolvedBy?: string;
  resolvedAt?: number;
  comment?: string;
}

export type TicketVerdict = 'linked' | 'customer_side' | 'single_outage' | 'unknown';

export interface Ticket {
  id: string;
  customer?: string;
  meter?: string;
  address?: string;
  site: string;
  /** when the call came (epoch ms) */
  time: number;
  text: string;
  verdict: TicketVerdict;
  outageId?: string;
  /** calls from this customer (or meter) within the repeat window, this one included */
  repeatCount: number;
  /** what the verdict rests on */
  evidence: string;
  createdBy: string;
  createdAt: number;
}

// ---------------------------------------------------------------- live supply

/** Supply of one meter as the latest reading shows it. */
export interface MeterSupply {
  status: 'dark' | 'live' | 'unknown';
  /** since when the status holds (epoch ms, server time of the sample) */
  since: number;
  /** largest phase voltage of the latest good reading, V */
  voltage: number | null;
  /** epoch ms of the latest reading */
  at: number | null;
}

// ---------------------------------------------------------------- options

export interface OutageOptions {
  /** a notice less than this before the start is late (allowed, marked, warned) */
  noticeLeadDays: number;
  /** a confirmed plan whose scope still has supply this long after its start is "not executed" */
  notExecutedAfterMin: number;
  /** a cut this long before a plan's start still counts as that plan */
  startToleranceMin: number;
  /** overlapping plans on the same scope: refused, or allowed with a warning */
  overlap: 'refuse' | 'warn';
  /** frequent outages: at least `frequentMin` outages within `frequentDays` */
  frequentDays: number;
  frequentMin: number;
  /** a meter dark this close (s) to an outage's start counts as going dark with it */
  coincideS: number;
  /** a meter inside a dark scope reporting voltage this long (s) after its start is a finding */
  liveInsideAfterS: number;
  /** a new outage this soon (s) after an outage over it restored is nested in it */
  nestedWithinS: number;
  /** repair calls of one customer within this many hours are counted together */
  repeatWindowH: number;
  /** a phase voltage below this is no supply (V) */
  darkBelowV: number;
  /** a reading older than this (s) says nothing about the supply */
  freshS: number;
  /** the pool's evaluation period, ms */
  tickMs: number;
}

export const DEFAULT_OUTAGE_OPTIONS: OutageOptions = {
  noticeLeadDays: 7,
  notExecutedAfterMin: 10,
  startToleranceMin: 15,
  overlap: 'refuse',
  frequentDays: 60,
  frequentMin: 3,
  coincideS: 30,
  liveInsideAfterS: 30,
  nestedWithinS: 120,
  repeatWindowH: 24,
  darkBelowV: 22,
  freshS: 60,
  tickMs: 1000,
};

export type { Customer };
