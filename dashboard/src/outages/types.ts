/**
 * The outage pool as the page receives it (GET /api/outages, /api/plans,
 * /api/findings, /api/tickets; docs/outages.md). Only the fields the views
 * read are declared; what a server may leave out is optional.
 */
export type ScopeKind = 'feeder' | 'transformer' | 'line' | 'meter';

/** A measured outage's scope: one feeder, transformer, line or meter ('' site: a feeder over several sites). */
export interface OutageScope {
  kind: ScopeKind;
  site: string;
  feeder?: string;
  transformer?: string;
  line?: string;
  meter?: string;
}

/** One element of a plan's scope. */
export type PlanScopeElement = { kind: 'feeder'; feeder: string } | { kind: 'transformer'; site: string; transformer: string } | { kind: 'line'; site: string; line: string };

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
  state: 'active' | 'restored' | 'merged';
  /** the parent outage of a nested one (customers still dark after their parent's restoration) */
  nested?: string;
  mergedInto?: string;
  noticeSummary?: NoticeSummary;
}

export type NoticeState = 'queued' | 'sending' | 'sent' | 'delivered' | 'failed' | 'read';

export interface NoticeSummary {
  queued: number;
  sending?: number;
  sent: number;
  delivered: number;
  failed: number;
  read: number;
  total?: number;
}

export interface Contact {
  name?: string;
  role?: string;
  phone?: string;
}

/** A notice to one phone, as listed with its customer. */
export interface Notice {
  id?: string;
  purpose?: string;
  phone: string;
  customer?: string | null;
  state: NoticeState;
  attempts?: number;
  updatedAt?: number;
}

/** An affected customer with the notices sent to its contacts. */
export interface CustomerRow {
  id: string;
  name: string;
  account?: string;
  category?: string;
  important?: boolean;
  site?: string;
  transformer?: string;
  line?: string;
  /** the contacts, or how many there are */
  contacts?: Contact[] | number;
  notices?: Notice[];
}

export interface FindingEvidence {
  outageId: string;
  outageStart?: number;
  at: number;
  voltage: number | null;
}

export interface Finding {
  id: string;
  kind: string;
  state: 'open' | 'resolved';
  meter: string;
  modelled?: { site: string; transformer: string; line?: string } | null;
  suggested?: { site: string; transformer?: string; feeder?: string } | null;
  message?: string;
  evidence?: FindingEvidence[];
  firstAt?: number;
  lastAt?: number;
  resolvedBy?: string;
  resolvedAt?: number;
  comment?: string;
  /** how many findings its meter has had in all (history) */
  meterFindings?: number;
}

export interface Ticket {
  id: string;
  customer?: string;
  meter?: string;
  address?: string;
  site?: string;
  time: number;
  text?: string;
  verdict: 'linked' | 'customer_side' | 'single_outage' | 'unknown';
  outageId?: string;
  repeatCount?: number;
  evidence?: string;
}

export interface TimelineEntry {
  at: number;
  /** the server's English sentence: shown when `ev` is absent or unknown */
  what: string;
  by?: string;
  /** the event kind and its parameters, said in the page's language (text.ts journalText) */
  ev?: { k: string; p: Record<string, string | number> };
}

/** One outage with its customers, findings, repair calls and journal (normalised by api.ts). */
export interface OutageDetail extends OutageSummary {
  rows: CustomerRow[];
  /** every notice of the outage and of its plan, with the customer it went to */
  notices: Notice[];
  findingList: Finding[];
  ticketList: Ticket[];
  timeline: TimelineEntry[];
}

export type PlanState = 'draft' | 'confirmed' | 'notified' | 'in_progress' | 'done' | 'cancelled' | 'overrun' | 'not_executed';

export interface Plan {
  id: string;
  sites?: string[];
  scope: PlanScopeElement[];
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
  /** after a topology reload changed a confirmed plan's list: confirm again */
  pendingChange?: { at: number; added: string[]; removed: string[] } | null;
  warnings?: string[];
  createdBy?: string;
  confirmedBy?: string;
  cancelReason?: string;
}

/** One plan with its computed customers and journal (normalised by api.ts). */
export interface PlanDetail extends Plan {
  rows: CustomerRow[];
  notices: Notice[];
  timeline: TimelineEntry[];
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
  scope: PlanScopeElement[];
  start: number;
  end: number;
  reason: string;
  workOrder: string;
  crew: string;
}
