/**
 * Meter health and available capacity in the room view and the overview:
 * a badge per meter with an active metering-device alarm (失压, 失流, …:
 * the alarms of the meter-health rule kinds, told by their level), and each
 * transformer's available capacity (GET /api/capacity).
 */
import { alarmStore, ACTIVE_STATES, type AlarmView } from './alarms/store.ts';
import { api } from './api.ts';
import { el, setText } from './dom.ts';
import { t, type MsgKey } from './i18n.ts';

/** The alarm levels of the meter-health rule kinds (server/rules/kinds/*.ts). */
export const HEALTH_LEVELS = ['voltage_loss', 'current_loss', 'reverse_flow', 'counter_stuck', 'counter_backwards'] as const;
/** built-in threshold rules that are meter health too, by rule id → the problem's name */
const HEALTH_RULES: Readonly<Record<string, string>> = { 'meter-clock-drift': 'clock_drift' };

/** The meter-health problem an alarm reports, or null. */
function problemOf(a: AlarmView): string | null {
  if (!ACTIVE_STATES.has(a.state)) return null;
  if ((HEALTH_LEVELS as readonly string[]).includes(a.level ?? '')) return a.level!;
  return HEALTH_RULES[a.ruleId] ?? null;
}

/** The meter-health problems active on `device` (voltage_loss, clock_drift, …). */
export function healthOf(device: string): string[] {
  const out: string[] = [];
  for (const a of alarmStore.alarms.values()) {
    if (a.source !== device) continue;
    const p = problemOf(a);
    if (p !== null && !out.includes(p)) out.push(p);
  }
  return out.sort();
}

/** An empty badge for a meter; paintHealth fills it. */
export function healthBadge(device: string | undefined): HTMLElement {
  const b = el('span', { class: 'badge b-health', hidden: '', ...(device ? { 'data-health': device } : {}) });
  return b;
}

export function paintHealth(badge: HTMLElement): void {
  const device = badge.dataset.health;
  const levels = device ? healthOf(device) : [];
  badge.hidden = levels.length === 0;
  const words = levels.map((l) => t(`mh_${l}` as MsgKey)).join(' · ');
  setText(badge, words);
  badge.title = levels.length ? t('mh_title', { what: words }) : '';
  badge.dataset.levels = levels.join(',');
}

/** Repaints every health badge under `root` when the alarm set changes; returns the unsubscribe. */
export function watchHealth(root: HTMLElement): () => void {
  const all = () => {
    for (const b of root.querySelectorAll<HTMLElement>('[data-health]')) paintHealth(b);
  };
  all();
  return alarmStore.onChange(all);
}

// ---------------------------------------------------------------- available capacity

export interface TransformerCapacity {
  room: string;
  transformer: string;
  ratedKva: number;
  intervals: number;
  maxKva: number | null;
  p95Kva: number | null;
  availableKva: number | null;
  availableP95Kva: number | null;
  maxLoadPct: number | null;
}

export function getCapacity(site: string): Promise<{ transformers: TransformerCapacity[] }> {
  return api(`capacity?site=${encodeURIComponent(site)}`);
}

/** `可开放 100 kVA（P95 115 kVA）` in `node`, the figures behind it as its title. */
export function paintCapacity(node: HTMLElement, c: TransformerCapacity | undefined): void {
  if (!c || c.availableKva === null) {
    setText(node, t('cap_none'));
    node.classList.add('muted');
    return;
  }
  // the overview's row has room for the available kVA only; the title gives the rest
  setText(node, node.dataset.short !== undefined ? t('cap_short', { a: c.availableKva }) : t('cap_text', { a: c.availableKva, p: c.availableP95Kva ?? '—' }));
  node.title = t('cap_title', { r: c.ratedKva, m: c.maxKva ?? '—', pct: c.maxLoadPct ?? '—', p: c.p95Kva ?? '—' });
  node.classList.toggle('cap-low', c.availableKva < 0.1 * c.ratedKva);
  node.dataset.available = String(c.availableKva);
}

/** Fills every `[data-cap="<room>/<transformer>"]` under `root` with the capacity of `site`'s transformers; errors leave them empty. */
export async function fillCapacity(root: HTMLElement, site: string): Promise<void> {
  const res = await getCapacity(site).catch(() => null);
  if (!res) return;
  const by = new Map(res.transformers.map((c) => [`${c.room}/${c.transformer}`, c]));
  for (const n of root.querySelectorAll<HTMLElement>(`[data-cap-site="${CSS.escape(site)}"]`)) paintCapacity(n, by.get(n.dataset.cap ?? ''));
}

export function capacitySlot(site: string, room: string, transformer: string, short = false): HTMLElement {
  return el('small', { class: 'cap', 'data-cap-site': site, 'data-cap': `${room}/${transformer}`, ...(short ? { 'data-short': '' } : {}) });
}
