/** The outage pool's REST calls (docs/outages.md). */
import { api, ApiError } from '../api.ts';
import type { Finding, ImportAnswer, OutageDetail, OutageSummary, Plan, PlanDetail, PlanInput, Ticket } from './types.ts';

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

export function getOutage(id: string): Promise<OutageDetail> {
  return api<OutageDetail>(`outages/${encodeURIComponent(id)}`);
}

export async function listPlans(view: 'upcoming' | 'active' | 'history', site?: string): Promise<Plan[]> {
  return listOf<Plan>(await api<unknown>(`plans${qs({ view, site })}`), 'plans');
}

export function getPlan(id: string): Promise<PlanDetail> {
  return api<PlanDetail>(`plans/${encodeURIComponent(id)}`);
}

export function createPlan(p: PlanInput): Promise<Plan> {
  return api<Plan>('plans', json('POST', p));
}

export function confirmPlan(id: string): Promise<Plan> {
  return api<Plan>(`plans/${encodeURIComponent(id)}/confirm`, json('POST'));
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
  const body = (await res.json().catch(() => null)) as (Partial<ImportAnswer> & { plans?: unknown[]; error?: { code?: string; message?: string; rejected?: ImportAnswer['rejected'] } }) | null;
  const rejected = body?.rejected ?? body?.error?.rejected;
  if (!res.ok && !rejected) throw new ApiError(res.status, body?.error?.code ?? `HTTP_${res.status}`, body?.error?.message ?? res.statusText);
  return { imported: res.ok ? (body?.imported ?? body?.plans?.length ?? 0) : 0, rejected: rejected ?? [] };
}

export async function listFindings(state: 'open' | 'resolved'): Promise<Finding[]> {
  return listOf<Finding>(await api<unknown>(`findings${qs({ state })}`), 'findings');
}

export function resolveFinding(id: string, note: string): Promise<Finding> {
  return api<Finding>(`findings/${encodeURIComponent(id)}/resolve`, json('POST', { note }));
}

export async function listTickets(site?: string): Promise<Ticket[]> {
  return listOf<Ticket>(await api<unknown>(`tickets${qs({ site })}`), 'tickets');
}
