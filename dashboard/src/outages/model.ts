/**
 * The outage pool's view model: pure functions over what the REST answers
 * (time comes in as an argument), so they are tested without a browser
 * (test/dashboard/outages-model.test.ts).
 */
import type { Role } from '../api.ts';
import type { CustomerRow, Notice, NoticeState, NoticeSummary, OutageScope, OutageSummary, Plan, PlanInput, PlanScopeElement, PlanState } from './types.ts';

export type Tab = 'now' | 'upcoming' | 'history';
export const TABS: readonly Tab[] = ['now', 'upcoming', 'history'];
export const tabOf = (s: string | null): Tab => (s === 'upcoming' || s === 'history' ? s : 'now');

const HOUR = 3_600_000;

/** Customer-hours (户时) so far: an active outage grows with the clock; a restored one is what the server counted. */
export function customerHoursAt(o: Pick<OutageSummary, 'state' | 'start' | 'end' | 'customers' | 'customerHours'>, now: number): number {
  if (o.state === 'active') return Math.max(o.customerHours ?? 0, (o.customers * Math.max(0, now - o.start)) / HOUR);
  return o.customerHours ?? (o.end ? (o.customers * Math.max(0, o.end - o.start)) / HOUR : 0);
}

/** Duration of an outage: until its end, or until now while it lasts. */
export function durationMs(o: { start: number; end?: number | null }, now: number): number {
  return Math.max(0, (o.end ?? now) - o.start);
}

/** A duration in the largest two units that matter: seconds, minutes, hours and minutes, days and hours. */
export type DurationParts = { unit: 's'; n: number } | { unit: 'm'; n: number } | { unit: 'hm'; h: number; m: string } | { unit: 'dh'; d: number; h: number };

export function durationParts(ms: number): DurationParts {
  const s = Math.floor(ms / 1000);
  if (s < 60) return { unit: 's', n: s };
  const m = Math.floor(s / 60);
  if (m < 60) return { unit: 'm', n: m };
  const h = Math.floor(m / 60);
  if (h < 48) return { unit: 'hm', h, m: String(m % 60).padStart(2, '0') };
  return { unit: 'dh', d: Math.floor(h / 24), h: h % 24 };
}

export function hoursText(h: number): string {
  return h < 10 ? h.toFixed(2) : h < 1000 ? h.toFixed(1) : String(Math.round(h));
}

export interface Names {
  site(id: string): string;
  feeder(id: string): string;
  transformer(site: string, id: string): string;
  line(site: string, id: string): string;
}

/** "城东供电所 · 10kV 东一线" — a measured outage's scope with the names of the topology (ids where a name is unknown). */
export function scopeText(s: OutageScope, n: Names): string {
  const parts = s.site ? [n.site(s.site)] : [];
  if (s.feeder) parts.push(n.feeder(s.feeder));
  if (s.transformer && s.kind !== 'feeder') parts.push(n.transformer(s.site, s.transformer));
  if (s.line) parts.push(n.line(s.site, s.line));
  if (s.meter && s.kind === 'meter') parts.push(s.meter);
  return parts.join(' · ');
}

/** A plan's scope: its elements by name, grouped by site, `sep` between several. */
export function planScopeText(scope: readonly PlanScopeElement[], n: Names, sep = ', '): string {
  const bySite = new Map<string, string[]>();
  const feeders: string[] = [];
  for (const e of scope) {
    if (e.kind === 'feeder') feeders.push(n.feeder(e.feeder));
    else bySite.set(e.site, [...(bySite.get(e.site) ?? []), e.kind === 'transformer' ? n.transformer(e.site, e.transformer) : n.line(e.site, e.line)]);
  }
  const parts = [...(feeders.length ? [feeders.join(sep)] : []), ...[...bySite].map(([site, xs]) => `${n.site(site)} · ${xs.join(sep)}`)];
  return parts.join(sep);
}

/** Whether a plan touches a station ('' = every station). */
export function planInSite(p: Pick<Plan, 'sites' | 'scope'>, site: string): boolean {
  return !site || (p.sites ?? []).includes(site) || p.scope.some((e) => e.kind !== 'feeder' && e.site === site);
}

/** Active first, then newest first. */
export function sortOutages<T extends { state: string; start: number }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => (a.state === b.state ? b.start - a.start : a.state === 'active' ? -1 : 1));
}

/** Soonest first. */
export function sortPlans<T extends { start: number }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => a.start - b.start);
}

export const siteMatches = (scope: OutageScope, site: string): boolean => !site || scope.site === site || scope.site === '';

export function emptySummary(): NoticeSummary {
  return { queued: 0, sending: 0, sent: 0, delivered: 0, failed: 0, read: 0 };
}

/** Counts notices by state. */
export function summarize(notices: readonly Notice[]): NoticeSummary {
  const s = emptySummary();
  for (const n of notices) s[n.state] = (s[n.state] ?? 0) + 1;
  return s;
}

export type NoticeStatus = 'none' | 'pending' | 'partial' | 'delivered' | 'failed';

/**
 * One word for a set of notices: none sent yet, still on their way, all
 * delivered (read counts as delivered), some failed among delivered ones,
 * or all failed.
 */
export function noticeStatus(s: NoticeSummary | undefined): { status: NoticeStatus; total: number; done: number; failed: number } {
  if (!s) return { status: 'none', total: 0, done: 0, failed: 0 };
  const done = s.delivered + s.read;
  const waiting = s.queued + (s.sending ?? 0) + s.sent;
  const total = waiting + done + s.failed;
  const status: NoticeStatus = total === 0 ? 'none' : waiting > 0 ? 'pending' : s.failed === 0 ? 'delivered' : done === 0 ? 'failed' : 'partial';
  return { status, total, done, failed: s.failed };
}

/** How far a state has come: a customer's notice state is the best of its contacts'. */
const RANK: Record<NoticeState, number> = { failed: 0, queued: 1, sending: 2, sent: 3, delivered: 4, read: 5 };

export interface CustomerDelivery {
  customer: CustomerRow;
  /** the best state among the notices to its contacts; null = nothing sent to it */
  state: NoticeState | null;
  notices: Notice[];
}

/**
 * Delivery per customer: every affected customer with the notices sent to
 * its contacts (its own `notices`, or from `notices` matched by customer id,
 * else by a contact's phone). Customers whose notices all failed come
 * first, then those still waiting, then those not sent to, then the rest;
 * important customers first within each.
 */
export function deliveryByCustomer(rows: readonly CustomerRow[], notices: readonly Notice[] = []): CustomerDelivery[] {
  const byCustomer = new Map<string, Notice[]>();
  const byPhone = new Map<string, Notice[]>();
  for (const n of notices) {
    if (n.customer) byCustomer.set(n.customer, [...(byCustomer.get(n.customer) ?? []), n]);
    else byPhone.set(n.phone, [...(byPhone.get(n.phone) ?? []), n]);
  }
  const out = rows.map((c) => {
    const contacts = Array.isArray(c.contacts) ? c.contacts : [];
    const all = [...(c.notices ?? []), ...(byCustomer.get(c.id) ?? []), ...contacts.flatMap((k) => (k.phone ? (byPhone.get(k.phone) ?? []) : []))];
    // a notice listed both with its customer and in the detail's list counts once
    const seen = new Set<string>();
    const ns = all.filter((n) => !n.id || (!seen.has(n.id) && !!seen.add(n.id)));
    const state = ns.length ? ns.reduce<NoticeState>((best, n) => (RANK[n.state] > RANK[best] ? n.state : best), 'failed') : null;
    return { customer: c, state, notices: ns };
  });
  const order = (s: NoticeState | null) => (s === 'failed' ? 0 : s === 'queued' || s === 'sending' || s === 'sent' ? 1 : s === null ? 2 : 3);
  return out.sort((a, b) => order(a.state) - order(b.state) || Number(!!b.customer.important) - Number(!!a.customer.important));
}

const OPEN_STATES: readonly PlanState[] = ['draft', 'confirmed', 'notified'];

/** What the signed-in user may do with a plan: a viewer does nothing; confirming and cancelling are an operator's. */
export function planActions(p: Pick<Plan, 'state' | 'pendingChange'>, role: Role): { confirm: boolean; cancel: boolean; edit: boolean } {
  const op = role === 'operator' || role === 'admin';
  // a confirmed plan whose list a topology reload changed waits for a new confirmation
  return { confirm: op && (p.state === 'draft' || (!!p.pendingChange && OPEN_STATES.includes(p.state))), cancel: op && OPEN_STATES.includes(p.state), edit: op && p.state === 'draft' };
}

export interface PlanFormValues {
  site: string;
  kind: 'feeder' | 'transformer' | 'line';
  feeder: string;
  transformers: string[];
  lines: string[];
  /** datetime-local values ("2026-12-07T09:00") in the page's time zone */
  start: string;
  end: string;
  reason: string;
  workOrder: string;
  crew: string;
}

export type PlanFormError = 'site' | 'scope' | 'start' | 'end' | 'window' | 'reason';

/** datetime-local → epoch ms in the browser's zone; NaN when empty or malformed. */
export function localTime(v: string): number {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(v) ? new Date(v).getTime() : NaN;
}

/** epoch ms → a datetime-local value in the browser's zone */
export function localInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** Checks the form; every problem at once, the plan to send when there is none. */
export function planFromForm(v: PlanFormValues): { errors: PlanFormError[]; plan?: PlanInput } {
  const errors: PlanFormError[] = [];
  if (!v.site) errors.push('site');
  const scope: PlanScopeElement[] =
    v.kind === 'feeder'
      ? v.feeder ? [{ kind: 'feeder', feeder: v.feeder }] : []
      : v.kind === 'transformer'
        ? v.transformers.map((transformer) => ({ kind: 'transformer' as const, site: v.site, transformer }))
        : v.lines.map((line) => ({ kind: 'line' as const, site: v.site, line }));
  if (v.site && !scope.length) errors.push('scope');
  const start = localTime(v.start);
  const end = localTime(v.end);
  if (Number.isNaN(start)) errors.push('start');
  if (Number.isNaN(end)) errors.push('end');
  if (!Number.isNaN(start) && !Number.isNaN(end) && end <= start) errors.push('window');
  if (!v.reason.trim()) errors.push('reason');
  if (errors.length) return { errors };
  return { errors, plan: { scope, start, end, reason: v.reason.trim(), workOrder: v.workOrder.trim(), crew: v.crew.trim() } };
}

/** Notice lead below the configured minimum (default 7 days): allowed, but marked late. */
export function isLate(start: number, now: number, leadDays = 7): boolean {
  return start - now < leadDays * 24 * HOUR;
}
