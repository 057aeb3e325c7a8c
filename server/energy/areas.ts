/**
 * Transformer areas (台区) from the topology: the transformer's meter
 * supplies the area; its sales meters are the meters of the customers the
 * topology places under the transformer, or, for a transformer without
 * customer meters, the meters of its outgoing lines (never both: a line
 * meter measures the customers behind it, counting both would count twice).
 */
import type { Topology } from '../../contract/index.ts';
import type { Area } from './types.ts';

/** The part of a customer the areas need (contract/topology.ts, customers). */
interface CustomerPlace {
  site: string;
  transformer: string;
  meter?: string;
}

export function areasOf(topology: Topology): Area[] {
  const customers = ((topology as { customers?: readonly CustomerPlace[] }).customers ?? []).filter((c) => c.meter);
  const byArea = new Map<string, string[]>();
  for (const c of customers) {
    const k = `${c.site}/${c.transformer}`;
    byArea.set(k, [...(byArea.get(k) ?? []), c.meter!]);
  }
  const out: Area[] = [];
  for (const site of topology.sites)
    for (const room of site.rooms)
      for (const t of room.transformers) {
        const cust = byArea.get(`${site.id}/${t.id}`);
        const area: Area = cust?.length
          ? { site: site.id, room: room.id, transformer: t.id, salesMeters: [...cust], salesBasis: 'customers' }
          : { site: site.id, room: room.id, transformer: t.id, salesMeters: t.lines.flatMap((l) => (l.meter ? [l.meter] : [])), salesBasis: 'lines' };
        if (t.meter) area.supplyMeter = t.meter;
        out.push(area);
      }
  return out;
}

/** Every meter of an area, the supply meter first. */
export function metersOf(area: Area): string[] {
  return [...(area.supplyMeter ? [area.supplyMeter] : []), ...area.salesMeters];
}
