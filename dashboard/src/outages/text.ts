/** The outage pool's labels in the page's language (keys in i18n.ts, block "outage pool"). */
import { hasKey, locale, t, type MsgKey } from '../i18n.ts';
import type { TopoIndex } from '../topo.ts';
import { durationParts, noticeStatus, planScopeText as planScopeWith, type Names } from './model.ts';
import type { NoticeState, NoticeSummary, OutageCause, PlanScopeElement, PlanState, ScopeKind, Ticket, TimelineEntry } from './types.ts';

/** A label whose key is made from a server value; the value itself when there is no such key. */
function keyed(prefix: string, v: string): string {
  const k = `${prefix}${v}`;
  return hasKey(k) ? t(k) : v.replace(/_/g, ' ');
}

export const causeText = (c: OutageCause): string => keyed('o_cause_', c);
export const outageStateText = (s: string): string => keyed('o_st_', s);
export const planStateText = (s: PlanState): string => keyed('o_ps_', s);
export const noticeStateText = (s: NoticeState | null): string => (s ? keyed('o_ns_', s) : t('o_ns_nothing'));
export const categoryText = (c: string | undefined): string => (c ? keyed('o_cat_', c) : '');
export const kindText = (k: ScopeKind): string => keyed('o_kind_', k);
export const findingKindText = (k: string): string => keyed('o_fk_', k);
export const verdictText = (v: Ticket['verdict']): string => keyed('o_v_', v);

/** A journal entry in the page's language from its event kind and parameters; the server's sentence when the kind is unknown. */
export function journalText(e: TimelineEntry): string {
  const ev = e.ev;
  const key = ev ? `oj_${ev.k}` : '';
  if (!ev || !hasKey(key)) return e.what.replace(/_/g, ' ');
  const p: Record<string, string | number> = { ...ev.p };
  if (typeof p.scope === 'string') p.scope = kindText(p.scope as ScopeKind);
  if (typeof p.cause === 'string') p.cause = causeText(p.cause as OutageCause);
  if (typeof p.purpose === 'string') p.purpose = keyed('oj_pp_', p.purpose);
  let text = t(key, p);
  if (ev.k === 'opened' && p.plan !== undefined) text += t('oj_opened_plan', { plan: p.plan });
  if (ev.k === 'opened' && p.nested !== undefined) text += t('oj_opened_nested', { nested: p.nested });
  return text;
}

export function noticeText(s: NoticeSummary | undefined): { text: string; cls: string } {
  const n = noticeStatus(s);
  return { text: t(`o_nn_${n.status}` as MsgKey, { done: n.done, total: n.total, failed: n.failed }), cls: `ns ns-${n.status}` };
}

export function timeText(ms: number | null | undefined): string {
  if (!ms) return '—';
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return d.toLocaleString(locale(), { hour12: false, ...(today ? { hour: '2-digit', minute: '2-digit' } : { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }) });
}

export function durationText(ms: number): string {
  const p = durationParts(ms);
  return t(`o_dur_${p.unit}` as MsgKey, p);
}

export const planScopeText = (s: readonly PlanScopeElement[], n: Names): string => planScopeWith(s, n, t('o_listSep'));

export function windowText(start: number, end: number | null | undefined): string {
  return `${timeText(start)} – ${end ? timeText(end) : '…'}`;
}

/** Names of sites, feeders, transformers and lines from the topology; ids where it does not know them. */
export function namesOf(topo: TopoIndex): Names {
  const sites = new Map(topo.topology.sites.map((s) => [s.id, s]));
  const feeders = new Map(feedersOf(topo).map((f) => [f.id, f.name]));
  const trName = (site: string, id: string) => {
    for (const r of sites.get(site)?.rooms ?? []) for (const tr of r.transformers) if (tr.id === id) return `${r.name} ${tr.name}`;
    return id;
  };
  const lineName = (site: string, id: string) => {
    for (const r of sites.get(site)?.rooms ?? []) for (const tr of r.transformers) for (const l of tr.lines) if (l.id === id) return `${r.name} ${l.name}`;
    return id;
  };
  return { site: (id) => sites.get(id)?.name ?? id, feeder: (id) => feeders.get(id) ?? id, transformer: trName, line: lineName };
}

export interface FeederInfo {
  id: string;
  name: string;
  substation?: string;
  site?: string;
}

/**
 * The 10 kV feeders of the topology (docs/contract.md, Topology). A feeder
 * belongs to the stations whose transformers hang on it.
 */
export function feedersOf(topo: TopoIndex): FeederInfo[] {
  const raw = (topo.topology as { feeders?: Array<{ id: string; name?: string; substation?: string; site?: string }> }).feeders ?? [];
  return raw.map((f) => ({ id: f.id, name: f.name ?? f.id, ...(f.substation ? { substation: f.substation } : {}), ...(f.site ? { site: f.site } : {}) }));
}

export function feedersOfSite(topo: TopoIndex, site: string): FeederInfo[] {
  const s = topo.topology.sites.find((x) => x.id === site);
  const used = new Set<string>();
  for (const r of s?.rooms ?? []) for (const tr of r.transformers) {
    const f = (tr as { feeder?: string }).feeder;
    if (f) used.add(f);
  }
  return feedersOf(topo).filter((f) => used.has(f.id) || f.site === site);
}
