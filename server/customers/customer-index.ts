/**
 * The customer index: who is supplied by a feeder, a transformer, a line or a
 * meter, built from the topology (feeders, transformers, its `customers:`)
 * and the customers imported from CSV. Immutable: a reload builds a new index
 * and `diffIndexes` says what changed (docs/contract.md, Customers).
 */
import { customerReachable, type Customer, type Feeder, type Topology } from '../../contract/index.ts';

export type CustomerScope =
  | { feeder: string }
  | { site: string; transformer: string }
  | { site: string; line: string }
  | { meter: string };

export interface IndexedCustomer extends Customer {
  /** where the record comes from: the topology YAML or a CSV import */
  source: 'topology' | 'import';
  /** the 10 kV feeder of its transformer, when the topology names one */
  feeder?: string;
  /** false: no contact with a phone, no notice can reach this customer ('no contact') */
  reachable: boolean;
}

export interface TransformerRef {
  site: string;
  transformer: string;
}

export interface CustomerDiff {
  added: string[];
  removed: string[];
  /** same id, other place (site, transformer, line, feeder, meter) or other contacts */
  changed: string[];
  feedersAdded: string[];
  feedersRemoved: string[];
  /** transformers whose feeder changed (`from`/`to` absent: none) */
  transformersMoved: Array<TransformerRef & { from?: string; to?: string }>;
}

const key = (site: string, id: string) => `${site}/${id}`;

function byImportance(a: IndexedCustomer, b: IndexedCustomer): number {
  if (a.important !== b.important) return a.important ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class CustomerIndex {
  readonly feeders: readonly Feeder[];
  private readonly byId = new Map<string, IndexedCustomer>();
  private readonly byMeter = new Map<string, IndexedCustomer>();
  private readonly byTransformer = new Map<string, IndexedCustomer[]>();
  private readonly byLine = new Map<string, IndexedCustomer[]>();
  private readonly bySite = new Map<string, IndexedCustomer[]>();
  /** feeder id → its transformers */
  private readonly feederTransformers = new Map<string, TransformerRef[]>();
  /** `site/transformer` → feeder id */
  private readonly transformerFeeder = new Map<string, string>();
  /** device id of a transformer or line meter → its place */
  private readonly meterPlace = new Map<string, { site: string; transformer: string; line: string }>();

  /**
   * Builds the index. The inputs are expected valid (parseTopology, the CSV
   * import); a customer whose transformer is unknown is still indexed by id
   * and site, without a feeder.
   */
  constructor(topology: Topology, imported: readonly Customer[] = []) {
    this.feeders = topology.feeders ?? [];
    for (const f of this.feeders) this.feederTransformers.set(f.id, []);
    for (const site of topology.sites) {
      for (const room of site.rooms) for (const t of room.transformers) {
        if (t.meter) this.meterPlace.set(t.meter, { site: site.id, transformer: t.id, line: '' });
        for (const l of t.lines) if (l.meter) this.meterPlace.set(l.meter, { site: site.id, transformer: t.id, line: l.id });
        if (!t.feeder) continue;
        this.transformerFeeder.set(key(site.id, t.id), t.feeder);
        const list = this.feederTransformers.get(t.feeder);
        if (list) list.push({ site: site.id, transformer: t.id });
        else this.feederTransformers.set(t.feeder, [{ site: site.id, transformer: t.id }]);
      }
    }
    const add = (c: Customer, source: IndexedCustomer['source']) => {
      const feeder = this.transformerFeeder.get(key(c.site, c.transformer));
      const ic: IndexedCustomer = { ...c, source, reachable: customerReachable(c) };
      if (feeder !== undefined) ic.feeder = feeder;
      this.byId.set(c.id, ic);
      if (c.meter) this.byMeter.set(c.meter, ic);
      push(this.byTransformer, key(c.site, c.transformer), ic);
      if (c.line) push(this.byLine, key(c.site, c.line), ic);
      push(this.bySite, c.site, ic);
    };
    for (const c of topology.customers ?? []) add(c, 'topology');
    for (const c of imported) if (!this.byId.has(c.id)) add(c, 'import');
  }

  get size(): number {
    return this.byId.size;
  }

  all(): IterableIterator<IndexedCustomer> {
    return this.byId.values();
  }

  customerById(id: string): IndexedCustomer | undefined {
    return this.byId.get(id);
  }

  customerOfMeter(meter: string): IndexedCustomer | undefined {
    return this.byMeter.get(meter);
  }

  customersOfSite(site: string): IndexedCustomer[] {
    return [...(this.bySite.get(site) ?? [])].sort(byImportance);
  }

  feederOf(site: string, transformer: string): string | undefined {
    return this.transformerFeeder.get(key(site, transformer));
  }

  transformersOfFeeder(feeder: string): TransformerRef[] {
    return [...(this.feederTransformers.get(feeder) ?? [])];
  }

  hasFeeder(feeder: string): boolean {
    return this.feederTransformers.has(feeder);
  }

  /**
   * The customers a scope supplies, important ones first, then by id. A meter
   * scope is the customer of that meter, or — for a transformer or line
   * meter — everyone under that transformer or line. Unknown scope → [].
   */
  customersUnder(scope: CustomerScope): IndexedCustomer[] {
    let out: IndexedCustomer[];
    if ('feeder' in scope) {
      out = [];
      for (const t of this.feederTransformers.get(scope.feeder) ?? []) out.push(...(this.byTransformer.get(key(t.site, t.transformer)) ?? []));
    } else if ('transformer' in scope) {
      out = [...(this.byTransformer.get(key(scope.site, scope.transformer)) ?? [])];
    } else if ('line' in scope) {
      out = [...(this.byLine.get(key(scope.site, scope.line)) ?? [])];
    } else {
      const own = this.byMeter.get(scope.meter);
      if (own) return [own];
      const place = this.meterPlace.get(scope.meter);
      if (!place) return [];
      return place.line ? this.customersUnder({ site: place.site, line: place.line }) : this.customersUnder({ site: place.site, transformer: place.transformer });
    }
    return out.sort(byImportance);
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function sameCustomer(a: IndexedCustomer, b: IndexedCustomer): boolean {
  return (
    a.site === b.site && a.transformer === b.transformer && a.line === b.line && a.feeder === b.feeder && a.meter === b.meter &&
    a.name === b.name && a.important === b.important && a.category === b.category &&
    a.contacts.length === b.contacts.length &&
    a.contacts.every((k, i) => k.name === b.contacts[i]!.name && k.role === b.contacts[i]!.role && k.phone === b.contacts[i]!.phone)
  );
}

/** What changed from one index to the next: customers, feeders, transformers moved between feeders. */
export function diffIndexes(prev: CustomerIndex, next: CustomerIndex): CustomerDiff {
  const d: CustomerDiff = { added: [], removed: [], changed: [], feedersAdded: [], feedersRemoved: [], transformersMoved: [] };
  for (const c of next.all()) {
    const p = prev.customerById(c.id);
    if (!p) d.added.push(c.id);
    else if (!sameCustomer(p, c)) d.changed.push(c.id);
  }
  for (const c of prev.all()) if (!next.customerById(c.id)) d.removed.push(c.id);
  const pf = new Set(prev.feeders.map((f) => f.id));
  const nf = new Set(next.feeders.map((f) => f.id));
  for (const f of nf) if (!pf.has(f)) d.feedersAdded.push(f);
  for (const f of pf) if (!nf.has(f)) d.feedersRemoved.push(f);
  const seen = new Set<string>();
  const moved = (idx: CustomerIndex) => {
    for (const f of idx.feeders) for (const t of idx.transformersOfFeeder(f.id)) {
      const k = key(t.site, t.transformer);
      if (seen.has(k)) continue;
      seen.add(k);
      const from = prev.feederOf(t.site, t.transformer);
      const to = next.feederOf(t.site, t.transformer);
      if (from === to) continue;
      const m: CustomerDiff['transformersMoved'][number] = { ...t };
      if (from !== undefined) m.from = from;
      if (to !== undefined) m.to = to;
      d.transformersMoved.push(m);
    }
  };
  moved(next);
  moved(prev);
  return d;
}

export function diffIsEmpty(d: CustomerDiff): boolean {
  return !d.added.length && !d.removed.length && !d.changed.length && !d.feedersAdded.length && !d.feedersRemoved.length && !d.transformersMoved.length;
}
