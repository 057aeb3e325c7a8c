/**
 * Notices of the outage pool (pure): one message per contact with a phone of
 * each customer, keyed so the same notice is never sent twice
 * (`<ref kind>:<ref id>:<customer>:<phone>:<purpose>`). Texts are the
 * notification service's templates (server/notify/templates.ts).
 */
import type { NotifyPurpose, NotifyRequest } from '../notify/index.ts';
import type { Grid } from './grid.ts';
import type { OutageRecord, OutageScope, Plan, PlanScopeElement } from './types.ts';

/** `2026-10-01 08:00` in the zone `offsetMin` minutes east of UTC. */
export function localTime(ms: number, offsetMin: number): string {
  return new Date(ms + offsetMin * 60_000).toISOString().slice(0, 16).replace('T', ' ');
}

export function scopeText(scope: readonly (PlanScopeElement | OutageScope)[], grid: Grid): string {
  return scope
    .map((e) => {
      if (e.kind === 'feeder') return `${grid.feederNames.get(e.feeder!) ?? e.feeder}`;
      if (e.kind === 'transformer') return grid.transformers.get(`${e.site}/${e.transformer}`)?.name ?? `${e.site}/${e.transformer}`;
      if (e.kind === 'line') return `${e.site}/${e.line}`;
      return `${e.meter}`;
    })
    .join('、');
}

export function composeNotices(
  ref: { kind: 'plan' | 'outage'; id: string },
  purpose: NotifyPurpose,
  customers: readonly string[],
  grid: Grid,
  vars: Record<string, string | number>,
): NotifyRequest[] {
  const out: NotifyRequest[] = [];
  for (const id of customers) {
    const c = grid.customers.get(id);
    if (!c) continue;
    const phones = new Set<string>();
    for (const k of c.contacts) {
      if (!k.phone || phones.has(k.phone)) continue;
      phones.add(k.phone);
      out.push({
        key: `${ref.kind}:${ref.id}:${c.id}:${k.phone}:${purpose}`,
        to: { phone: k.phone, name: k.name, customer: c.id },
        template: purpose,
        vars: { ...vars, customer: c.name },
        purpose,
        ref,
      });
    }
  }
  return out;
}

export function planVars(p: Plan, grid: Grid, hotline: string, offsetMin: number): Record<string, string> {
  return { reason: p.reason, start: localTime(p.start, offsetMin), end: localTime(p.end, offsetMin), scope: scopeText(p.scope, grid), hotline };
}

export function outageVars(r: OutageRecord, grid: Grid, hotline: string, offsetMin: number): Record<string, string> {
  return { reason: r.cause, start: localTime(r.start, offsetMin), end: localTime(r.end ?? r.start, offsetMin), scope: scopeText([r.scope], grid), hotline };
}
