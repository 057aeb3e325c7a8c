/**
 * Measured outages from the outage correlation (server/rules/outage.ts), one
 * level up (pure): every transformer of a 10 kV feeder dark → ONE feeder
 * outage; a transformer dark → a transformer outage; a line or a single meter
 * dark → an outage of that line or meter. A record opens when its scope goes
 * dark, stays open while any part of it is still dark, and closes when none
 * is; a transformer outage that becomes part of a feeder outage is merged
 * into it. A new outage under one restored moments ago is nested in it
 * (customers still dark behind a restored parent).
 */
import type { Grid } from './grid.ts';
import type { OutageRecord, OutageScope } from './types.ts';

/** An active outage alarm of the correlation, as the pool reads it. */
export interface DarkCondition {
  alarmId: string;
  scope: 'transformer' | 'meter';
  site: string;
  transformer: string;
  /** the meters seen dark */
  meters: string[];
  /** the device, for a meter-scope condition */
  source: string;
  /** epoch ms the alarm's condition began */
  since: number;
}

export interface DeriveResult {
  /** records to create */
  opened: OutageRecord[];
  /** existing records with their new value (closed, merged, extended) */
  changed: OutageRecord[];
}

export function scopeKey(s: OutageScope): string {
  if (s.kind === 'feeder') return `feeder:${s.feeder}`;
  if (s.kind === 'transformer') return `transformer:${s.site}/${s.transformer}`;
  if (s.kind === 'line') return `line:${s.site}/${s.line}`;
  return `meter:${s.meter}`;
}

/**
 * The records the dark conditions make at `now`. `records` are the pool's
 * records (active ones, and those restored within `nestedWithinMs` for
 * nesting); `newId` names a new record.
 */
export function deriveOutages(records: readonly OutageRecord[], conditions: readonly DarkCondition[], grid: Grid, now: number, nestedWithinMs: number, newId: () => string): DeriveResult {
  const darkT = new Map<string, DarkCondition>();
  const meterConds: DarkCondition[] = [];
  for (const c of conditions) {
    if (c.scope === 'transformer') darkT.set(`${c.site}/${c.transformer}`, c);
    else meterConds.push(c);
  }
  const active = records.filter((r) => r.state === 'active');
  const opened: OutageRecord[] = [];
  const changed = new Map<string, OutageRecord>();
  const covered = new Set<string>();

  // feeders: an open feeder outage lasts while any of its transformers is dark
  const openFeeder = new Map(active.filter((r) => r.scope.kind === 'feeder').map((r) => [r.scope.feeder!, r]));
  for (const [feeder, ts] of grid.feeders) {
    if (ts.length === 0) continue;
    const dark = ts.filter((t) => darkT.has(t));
    const rec = openFeeder.get(feeder);
    if (rec) {
      if (dark.length === 0) continue; // closed below
      for (const t of ts) covered.add(t);
      const meters = uniq([...rec.meters, ...dark.flatMap((t) => darkT.get(t)!.meters)]);
      const alarmIds = uniq([...rec.alarmIds, ...dark.map((t) => darkT.get(t)!.alarmId)]);
      if (meters.length !== rec.meters.length || alarmIds.length !== rec.alarmIds.length) changed.set(rec.id, { ...rec, meters, alarmIds });
      continue;
    }
    if (dark.length !== ts.length) continue;
    const sites = uniq(ts.map((t) => grid.transformers.get(t)!.site));
    const scope: OutageScope = { kind: 'feeder', site: sites.length === 1 ? sites[0]! : '', feeder };
    const conds = ts.map((t) => darkT.get(t)!);
    const id = newId();
    // the transformer outages already open for it become part of it, and it starts when the first of them did
    const absorbed = active.filter((r) => r.scope.kind === 'transformer' && ts.includes(`${r.scope.site}/${r.scope.transformer}`));
    for (const r of absorbed) changed.set(r.id, { ...r, state: 'merged', mergedInto: id, end: now });
    const start = Math.min(...conds.map((c) => c.since), ...absorbed.map((r) => r.start));
    opened.push(record(id, scope, grid, ts, uniq(conds.flatMap((c) => c.meters)), conds.map((c) => c.alarmId), start));
    for (const t of ts) covered.add(t);
  }

  const openByKey = new Map(active.map((r) => [scopeKey(r.scope), r]));
  const wanted = new Set<string>();
  for (const [t, c] of darkT) {
    if (covered.has(t)) continue;
    const scope: OutageScope = { kind: 'transformer', site: c.site, transformer: c.transformer };
    const gf = grid.transformers.get(t)?.feeder;
    if (gf !== undefined) scope.feeder = gf;
    const key = scopeKey(scope);
    wanted.add(key);
    const rec = openByKey.get(key);
    if (rec) {
      const meters = uniq([...rec.meters, ...c.meters]);
      if (meters.length !== rec.meters.length) changed.set(rec.id, { ...rec, meters });
      continue;
    }
    opened.push(record(newId(), scope, grid, [t], [...c.meters], [c.alarmId], c.since));
  }
  for (const c of meterConds) {
    const place = grid.meters.get(c.source);
    // a dark meter under a dark feeder's transformer is part of that outage
    if (place && covered.has(`${place.site}/${place.transformer}`)) continue;
    const scope: OutageScope =
      place?.line !== undefined && place.customer === undefined
        ? { kind: 'line', site: place.site, transformer: place.transformer, line: place.line, meter: c.source }
        : { kind: 'meter', site: place?.site ?? c.site, ...(place ? { transformer: place.transformer } : {}), meter: c.source };
    const key = scopeKey(scope);
    wanted.add(key);
    if (openByKey.has(key)) continue;
    opened.push(record(newId(), scope, grid, place ? [`${place.site}/${place.transformer}`] : [], [c.source], [c.alarmId], c.since));
  }

  // restored: nothing of it is dark any more
  for (const r of active) {
    if (changed.get(r.id)?.state === 'merged') continue;
    const stillDark = r.scope.kind === 'feeder' ? r.transformers.some((t) => darkT.has(t)) : wanted.has(scopeKey(r.scope));
    if (!stillDark) changed.set(r.id, { ...(changed.get(r.id) ?? r), state: 'restored', end: now });
  }

  // nested: a new outage inside one restored moments ago (or restored in this round)
  const parents = [...records.filter((r) => r.state === 'restored' && r.end !== undefined && now - r.end <= nestedWithinMs), ...[...changed.values()].filter((r) => r.state === 'restored')];
  for (const o of opened) {
    const p = parents.find((r) => r.id !== o.id && inside(o, r, grid));
    if (p) o.nested = p.id;
  }
  return { opened, changed: [...changed.values()] };
}

function record(id: string, scope: OutageScope, grid: Grid, transformers: string[], meters: string[], alarmIds: string[], start: number): OutageRecord {
  const customers = grid.customersOf([scope]);
  return {
    id,
    scope,
    transformers,
    meters,
    cause: 'unknown',
    start,
    state: 'active',
    customers,
    important: customers.filter((c) => grid.customers.get(c)?.important).length,
    findings: [],
    tickets: [],
    alarmIds,
  };
}

/** Is `child`'s scope inside `parent`'s? */
function inside(child: OutageRecord, parent: OutageRecord, grid: Grid): boolean {
  if (child.scope.kind === 'feeder') return false;
  const ts = child.transformers.length ? child.transformers : grid.transformersOf(child.scope);
  if (ts.length === 0 || !ts.every((t) => parent.transformers.includes(t))) return false;
  if (parent.scope.kind === 'line') return child.scope.kind === 'meter' && child.meters.every((m) => grid.meters.get(m)?.line === parent.scope.line);
  if (parent.scope.kind === 'meter') return false;
  return child.scope.kind !== 'transformer' || parent.scope.kind === 'feeder';
}

function uniq<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** Customer-hours (户时) of an outage at `now`: customers × hours dark. */
export function customerHours(r: Pick<OutageRecord, 'customers' | 'start' | 'end'>, now: number): number {
  const h = Math.max(0, (r.end ?? now) - r.start) / 3_600_000;
  return Math.round(r.customers.length * h * 100) / 100;
}
