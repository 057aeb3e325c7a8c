/**
 * Topology mismatch (图实不符, pure): during an outage, a meter the topology
 * puts inside the dark scope that keeps reporting voltage (live without a
 * break since before the outage began, still `liveInsideAfterS` after its
 * start), or a meter outside it that goes dark with it (within `coincideS`
 * of its start, while its own modelled transformer has supply, judged once it
 * has been dark `liveInsideAfterS`), is evidence that the model places the
 * meter wrongly. One finding per meter: a later observation adds evidence to
 * the open finding instead of a new one.
 */
import type { Grid } from './grid.ts';
import type { Finding, FindingKind, MeterSupply, OutageOptions, OutageRecord } from './types.ts';

export interface Observation {
  meter: string;
  kind: FindingKind;
  outage: OutageRecord;
  at: number;
  voltage: number | null;
}

/** What the meters say about the active outages at `now`. */
export function observe(
  active: readonly OutageRecord[],
  grid: Grid,
  supplies: ReadonlyMap<string, MeterSupply>,
  now: number,
  opts: Pick<OutageOptions, 'coincideS' | 'liveInsideAfterS'>,
): Observation[] {
  const out: Observation[] = [];
  const inScope = new Map<string, OutageRecord>();
  for (const r of active) for (const m of grid.metersUnder(r.scope)) inScope.set(m, r);
  for (const r of active) {
    if (r.scope.kind === 'meter') continue;
    for (const m of grid.metersUnder(r.scope)) {
      const s = supplies.get(m);
      // live without a break since before the outage began: a meter back with the restoration is not evidence
      if (s?.status === 'live' && s.since <= r.start && s.at !== null && s.at >= r.start + opts.liveInsideAfterS * 1000 && now >= r.start + opts.liveInsideAfterS * 1000)
        out.push({ meter: m, kind: 'live_inside', outage: r, at: s.at, voltage: s.voltage });
    }
  }
  const wide = active.filter((r) => r.scope.kind === 'feeder' || r.scope.kind === 'transformer');
  if (wide.length === 0) return out;
  for (const [m, s] of supplies) {
    if (s.status !== 'dark' || inScope.get(m)?.scope.kind === 'feeder' || inScope.get(m)?.scope.kind === 'transformer') continue;
    // judged once the picture has held: a meter whose own transformer goes dark a moment later (its outage
    // alarm still in its on-delay, its other meters not yet polled) is not a mismatch
    if (now - s.since < opts.liveInsideAfterS * 1000) continue;
    const place = grid.meters.get(m);
    if (!place) continue;
    // its own modelled transformer must have supply: a meter dark because its own scope is dark says nothing
    const own = `${place.site}/${place.transformer}`;
    if (active.some((r) => r.transformers.includes(own) && r.scope.kind !== 'meter' && r.scope.kind !== 'line')) continue;
    const ownMeters = [grid.transformers.get(own)?.meter, ...(grid.transformers.get(own)?.lines ?? []).map((l) => grid.lines.get(l)?.meter)].filter((x): x is string => x !== undefined && x !== m);
    if (!ownMeters.some((x) => supplies.get(x)?.status === 'live')) continue;
    const r = wide.find((x) => Math.abs(s.since - x.start) <= opts.coincideS * 1000);
    if (r) out.push({ meter: m, kind: 'dark_outside', outage: r, at: s.since, voltage: s.voltage });
  }
  return out;
}

/**
 * Folds observations into the findings: a new finding for a meter without an
 * open one, more evidence on the open one otherwise (one entry per outage).
 * Returns the findings created or changed.
 */
export function foldFindings(open: ReadonlyMap<string, Finding>, obs: readonly Observation[], grid: Grid, newId: () => string): Finding[] {
  const out = new Map<string, Finding>();
  for (const o of obs) {
    const cur = out.get(o.meter) ?? open.get(o.meter);
    if (cur?.evidence.some((e) => e.outageId === o.outage.id)) continue;
    const ev = { outageId: o.outage.id, outageStart: o.outage.start, at: o.at, voltage: o.voltage };
    if (cur) {
      out.set(o.meter, { ...cur, evidence: [...cur.evidence, ev].slice(-20), lastAt: o.at });
      continue;
    }
    const place = grid.meters.get(o.meter);
    const s = o.outage.scope;
    const scopeName = s.kind === 'feeder' ? `feeder ${s.feeder}` : s.kind === 'transformer' ? `transformer ${s.site}/${s.transformer}` : `line ${s.site}/${s.line}`;
    const modelled = place ? { site: place.site, transformer: place.transformer, ...(place.line !== undefined ? { line: place.line } : {}) } : null;
    const where = modelled ? `${modelled.site}/${modelled.transformer}${modelled.line ? `/${modelled.line}` : ''}` : 'nowhere';
    out.set(o.meter, {
      id: newId(),
      meter: o.meter,
      kind: o.kind,
      modelled,
      suggested: o.kind === 'dark_outside' ? { site: s.site, ...(s.transformer !== undefined ? { transformer: s.transformer } : {}), ...(s.feeder !== undefined ? { feeder: s.feeder } : {}) } : null,
      message:
        o.kind === 'live_inside'
          ? `meter ${o.meter} (modelled under ${where}) reports ${o.voltage ?? '?'} V during the outage of ${scopeName}: not supplied from it`
          : `meter ${o.meter} (modelled under ${where}) went dark with the outage of ${scopeName} while ${where} had supply: supplied from ${scopeName}`,
      evidence: [ev],
      state: 'open',
      firstAt: o.at,
      lastAt: o.at,
    });
  }
  return [...out.values()];
}
