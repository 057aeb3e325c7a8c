/**
 * Negative line loss as topology-mismatch evidence (pure): an area whose
 * hourly line loss (server/energy) is below −1 % sold more than it was
 * supplied — a customer or meter placed under the wrong transformer, or a
 * wrong CT ratio. A complete hourly figure below the limit opens a finding
 * on the area (kind `negative_loss`, keyed `site/transformer`) naming the
 * figure's supply, sales and interval; later negative hours add evidence;
 * a complete hour back at or above the limit resolves it (by `system`): one
 * after the last negative hour, or that hour itself computed again (after the
 * topology or the meter was corrected). Incomplete figures and other interval
 * lengths are not judged; a normal hour older than the last evidence does
 * not resolve it.
 */
import type { LineLossRecord } from '../energy/types.ts';
import type { Finding, LossEvidence } from './types.ts';

/** the interval judged and the limit (the built-in `line-loss-negative` rule's) */
export const NEGATIVE_LOSS = { interval: '1h', limitPct: -1 } as const;

/** The key of an area's finding in the pool's findings (by meter for the others). */
export const areaKey = (site: string, transformer: string): string => `${site}/${transformer}`;

const iso = (t: number) => new Date(t).toISOString().replace(':00.000Z', 'Z');

function evidenceOf(r: LineLossRecord): LossEvidence {
  return { interval: r.interval, start: r.start, end: r.end, supplyKwh: r.supplyKwh!, salesKwh: r.salesKwh!, lossPct: r.lossPct! };
}

/**
 * Folds line-loss figures into the findings (`findings`: the pool's, by key).
 * Returns the findings opened, given more evidence or resolved, in that order of the figures.
 */
export function foldLossFindings(findings: ReadonlyMap<string, Finding>, records: readonly LineLossRecord[], newId: () => string, now: number): Finding[] {
  const state = new Map<string, Finding>();
  const changed: Finding[] = [];
  const emit = (key: string, f: Finding) => {
    state.set(key, f);
    const i = changed.findIndex((x) => x.id === f.id);
    if (i >= 0) changed[i] = f;
    else changed.push(f);
  };
  const judged = records
    .filter((r) => r.interval === NEGATIVE_LOSS.interval && r.complete && r.lossPct !== null && r.supplyKwh !== null && r.salesKwh !== null)
    .sort((a, b) => a.start - b.start);
  for (const r of judged) {
    const key = areaKey(r.site, r.transformer);
    const cur = state.get(key) ?? findings.get(key);
    const open = cur?.state === 'open' && cur.kind === 'negative_loss' ? cur : undefined;
    const lastStart = open?.loss?.at(-1)?.start ?? -Infinity;
    if (r.lossPct! < NEGATIVE_LOSS.limitPct) {
      const ev = evidenceOf(r);
      if (open) {
        if (open.loss?.some((e) => e.start === r.start)) continue;
        const loss = [...(open.loss ?? []), ev].sort((a, b) => a.start - b.start).slice(-20);
        emit(key, { ...open, loss, lastAt: Math.max(open.lastAt, r.end) });
        continue;
      }
      emit(key, {
        id: newId(),
        meter: key,
        kind: 'negative_loss',
        modelled: { site: r.site, transformer: r.transformer },
        area: { site: r.site, transformer: r.transformer },
        suggested: null,
        message:
          `area ${key} sold more than it was supplied: loss ${r.lossPct!.toFixed(2)} % in the hour from ${iso(r.start)} ` +
          `(supply ${r.supplyKwh} kWh, sales ${r.salesKwh} kWh): a customer or meter under the wrong transformer, or a wrong CT ratio`,
        evidence: [],
        loss: [ev],
        state: 'open',
        firstAt: r.end,
        lastAt: r.end,
      });
    } else if (open && r.start >= lastStart) {
      emit(key, { ...open, state: 'resolved', resolvedBy: 'system', resolvedAt: now, comment: `loss back to ${r.lossPct!.toFixed(2)} % in the hour from ${iso(r.start)}` });
    }
  }
  return changed;
}
