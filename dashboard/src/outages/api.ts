/** The outage pool's REST calls (docs/outages.md). */
import { api, ApiError } from '../api.ts';
import type { CustomerRow, Finding, Notice, ImportAnswer, OutageDetail, OutageSummary, Plan, PlanDetail, PlanInput, Ticket, TimelineEntry } from './types.ts';

const json = (method: string, body?: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
const qs = (q: Record<string, string | undefined>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v) p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
};
/** Lists come as a bare array or as `{ items }` / `{ <name> }`. */
function listOf<T>(a: unknown, name: string): T[] {
  if (Array.isArray(a)) return a as T[];
  const o = a as Record<string, unknown> | null;
  const v = o?.[name] ?? o?.items;
  return Array.isArray(v) ? (v as T[]) : [];
}

export async function listOutages(view: 'now' | 'history', site?: string): Promise<OutageSummary[]> {
  return listOf<OutageSummary>(await api<unknown>(`outages${qs({ view, site })}`), 'outages');
}

type Raw = Record<string, unknown>;
const objects = <T>(v: unknown): T[] => (Array.isArray(v) ? (v.filter((x) => x !== null && typeof x === 'object') as T[]) : []);
/** the first of `keys` that holds a list of objects */
const firstList = <T>(o: Raw, keys: string[]): T[] => {
  for (const k of keys) if (objects(o[k]).length) return objects<T>(o[k]);
  return [];
};
/** journal entries as `{ at, what, by }` whatever they were called */
const timelineOf = (o: Raw): TimelineEntry[] =>
  firstList<Raw>(o, ['timeline', 'journal', 'history']).map((e) => {
    const ev = e.ev as TimelineEntry['ev'] | null | undefined;
    return { at: Number(e.at ?? e.ts ?? 0), what: String(e.what ?? e.event ?? e.reason ?? ''), ...(e.by ?? e.actor ? { by: String(e.by ?? e.actor) } : {}), ...(ev && typeof ev.k === 'string' ? { ev: { k: ev.k, p: ev.p ?? {} } } : {}) };
  });

/** The customers of a detail: a list under any of the names a detail may use; the count stays a number. */
function detailParts(o: Raw): { rows: CustomerRow[]; customers: number } {
  const rows = firstList<CustomerRow>(o, ['affected', 'customerRows', 'customerList', 'customers']);
  return { rows, customers: typeof o.customers === 'number' ? o.customers : rows.length };
}

export async function getOutage(id: string): Promise<OutageDetail> {
  const o = await api<Raw>(`outages/${encodeURIComponent(id)}`);
  const base = (o.outage && typeof o.outage === 'object' ? { ...(o.outage as Raw), ...o } : o) as Raw;
  return {
    ...(base as unknown as OutageSummary),
    ...detailParts(base),
    notices: objects<Notice>(base.notices),
    findingList: firstList<Finding>(base, ['findingList', 'findings']),
    ticketList: firstList<Ticket>(base, ['ticketList', 'tickets']),
    timeline: timelineOf(base),
  };
}

export async function listPlans(view: 'upcoming' | 'active' | 'history', site?: string): Promise<Plan[]> {
  return listOf<Plan>(await api<unknown>(`plans${qs({ view, site })}`), 'plans');
}

export async function getPlan(id: string): Promise<PlanDetail> {
  const o = await api<Raw>(`plans/${encodeURIComponent(id)}`);
  const base = (o.plan && typeof o.plan === 'object' ? { ...(o.plan as Raw), ...o } : o) as Raw;
  return { ...(base as unknown as Plan), ...detailParts(base), notices: objects<Notice>(base.notices), timeline: timelineOf(base) };
}

export function createPlan(p: PlanInput): Promise<Plan> {
  return api<Plan>('plans', json('POST', p));
}

/** Confirms the list the operator saw: `customers` is its length, and the server refuses when its list has another. */
export function confirmPlan(id: string, customers: number): Promise<Plan> {
  return api<Plan>(`plans/${encodeURIComponent(id)}/confirm`, json('POST', { customers }));
}

export function cancelPlan(id: string, reason: string): Promise<Plan> {
  return api<Plan>(`plans/${encodeURIComponent(id)}/cancel`, json('POST', { reason }));
}

/**
 * CSV import: every rejected row with its line and reason. A refused import
 * (nothing imported) answers an error whose body still lists the rows.
 */
export async function importPlans(csv: string): Promise<ImportAnswer> {
  const res = await fetch('./api/plans/import', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
  const body = (await res.json().catch(() => null)) as (Partial<ImportAnswer> & { plans?: unknown[]; error?: { code?: string; message?: string; issues?: ImportAnswer['rejected'] } }) | null;
  const rejected = body?.rejected ?? body?.error?.issues?.map((i) => ({ line: i.line ?? 0, reason: i.reason }));
  if (!res.ok && !rejected) throw new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? res.statusText);
  return { imported: res.ok ? (body?.imported ?? body?.plans?.length ?? 0) : 0, rejected: rejected ?? [] };
}

/** `history`: every finding ever made, resolved ones before an open one of the same meter included */
export async function listFindings(state: 'open' | 'resolved' | 'history'): Promise<Finding[]> {
  return listOf<Finding>(await api<unknown>(`findings${qs(state === 'history' ? { state: 'all', history: '1' } : { state })}`), 'findings');
}

export function resolveFinding(id: string, comment: string): Promise<Finding> {
  return api<Finding>(`findings/${encodeURIComponent(id)}/resolve`, json('POST', comment ? { comment } : {}));
}

export async function listTickets(site?: string): Promise<Ticket[]> {
  return listOf<Ticket>(await api<unknown>(`tickets${qs({ site })}`), 'tickets');
}
