/**
 * The outage pool as the page receives it (GET /api/outages, /api/plans,
 * /api/findings, /api/tickets; docs/outages.md). Only the fields the views
 * read are declared; everything optional that the server may leave out is
 * optional here too, so an older or newer server shows what it has.
 */
export type ScopeKind = 'feeder' | 'transformer' | 'line' | 'meter';

export interface OutageScope {
  kind: ScopeKind;
  site: string;
  feeder?: string;
  transformer?: string;
  /** a plan may name several transformers or lines of one site */
  transformers?: string[];
  line?: string;
  lines?: string[];
  meter?: string;
}

export type OutageCause = 'planned' | 'fault' | 'unknown';

export interface OutageSummary {
  id: string;
  scope: OutageScope;
  cause: OutageCause;
  planId?: string;
  start: number;
  end?: number | null;
  /** affected customers (count) */
  customers: number;
  /** customer-hours (户时) at the time of the answer */
  customerHours: number;
  /** important / sensitive customers among them */
  important?: number;
  state: 'active' | 'restored';
  /** the parent outage of a nested one (customers still dark after their parent's restoration) */
  nested?: string;
  tickets?: number;
  findings?: number;
  noticeSummary?: NoticeSummary;
}

export type NoticeState = 'queued' | 'sent' | 'delivered' | 'failed' | 'read';

export interface NoticeSummary {
  queued: number;
  sent: number;
  delivered: number;
  failed: number;
  read: number;
}

export interface Contact {
  name?: string;
  role?: string;
  phone: string;
}

export interface AffectedCustomer {
  id: string;
  name: string;
  account?: string;
  category?: string;
  important?: boolean;
  site?: string;
  transformer?: string;
  line?: string;
  meter?: string;
  contacts?: Contact[];
}

export interface Notice {
  key?: string;
  to: { phone: string; name?: string; customer?: string; person?: string };
  purpose?: string;
  state: NoticeState;
  attempts?: number;
  error?: string;
  updatedAt?: number;
}

export interface Finding {
  id: string;
  kind: string;
  state: 'open' | 'resolved';
  meter?: string;
  customer?: string;
  site?: string;
  transformer?: string;
  outageId?: string;
  /** what the measurements showed: times and voltages */
  evidence?: Record<string, unknown> | string;
  message?: string;
  at?: number;
  resolvedBy?: string;
  resolvedAt?: number;
  note?: string;
}

export interface Ticket {
  id: string;
  customer?: string;
  meter?: string;
  address?: string;
  time: number;
  text?: string;
  verdict: 'linked' | 'customer_side' | 'single_outage' | 'unknown';
  outageId?: string;
  repeatCount?: number;
}

export interface TimelineEntry {
  at: number;
  what: string;
  by?: string;
  detail?: string;
}

export interface OutageDetail extends OutageSummary {
  affected?: AffectedCustomer[];
  notices?: Notice[];
  findingsList?: Finding[];
  ticketsList?: Ticket[];
  timeline?: TimelineEntry[];
}

export type PlanState = 'draft' | 'confirmed' | 'notified' | 'in_progress' | 'done' | 'cancelled' | 'overrun' | 'not_executed';

export interface Plan {
  id: string;
  scope: OutageScope;
  start: number;
  end: number;
  reason: string;
  workOrder?: string;
  crew?: string;
  state: PlanState;
  late?: boolean;
  customers: number;
  important?: number;
  noticeSummary?: NoticeSummary;
  createdBy?: string;
  confirmedBy?: string;
}

export interface PlanDetail extends Plan {
  affected?: AffectedCustomer[];
  notices?: Notice[];
  timeline?: TimelineEntry[];
  /** after a topology reload: customers added to and dropped from the confirmed list */
  diff?: { added: AffectedCustomer[]; removed: AffectedCustomer[] };
}

export interface ImportRejected {
  line: number;
  reason: string;
}

export interface ImportAnswer {
  imported: number;
  rejected: ImportRejected[];
}

/** A plan as the form sends it (POST /api/plans). */
export interface PlanInput {
  scope: OutageScope;
  start: number;
  end: number;
  reason: string;
  workOrder?: string;
  crew?: string;
}
