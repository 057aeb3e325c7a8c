/**
 * `notices-late-or-wrong` of stations from the outage pool's plans
 * (docs/risk.md, Indicators from the outage pool). A plan counts when its
 * notices went out (it was confirmed), its planned start lies in the window
 * [from, to), and its notice was late (less than the pool's notice lead), or
 * it did not match what happened: supply was cut past the announced end
 * (`overrun`), the outage did not take place (`not_executed`), or the
 * affected list changed after the notice and the added customers were not
 * told (a pending change). A plan counts once at each station its scope
 * touches. Pure.
 */
import type { Plan } from '../outages/types.ts';

export function noticesLateOrWrong(plans: readonly Plan[], stations: readonly string[], window: { from: number; to: number }): Map<string, { 'notices-late-or-wrong': number }> {
  const acc = new Map(stations.map((s) => [s, 0]));
  for (const p of plans) {
    if (p.confirmedAt === undefined || p.start < window.from || p.start >= window.to) continue;
    const wrong = p.late || p.state === 'overrun' || p.state === 'not_executed' || (p.pendingChange !== null && p.pendingChange.added.length > 0);
    if (!wrong) continue;
    for (const s of new Set(p.sites)) if (acc.has(s)) acc.set(s, acc.get(s)! + 1);
  }
  return new Map([...acc].map(([s, n]) => [s, { 'notices-late-or-wrong': n }]));
}
