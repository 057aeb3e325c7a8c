/**
 * The topology as the outage pool asks it (pure): feeders → transformers →
 * lines → meters, customers under each, and which scope covers which.
 * Built once per topology/customer load.
 */
import type { Customer, Topology } from '../../contract/index.ts';
import type { OutageScope, PlanScopeElement } from './types.ts';

export interface GridTransformer {
  /** `site/transformer` */
  key: string;
  site: string;
  room: string;
  transformer: string;
  name: string;
  feeder?: string;
  meter?: string;
  /** `site/line` keys */
  lines: string[];
}

export interface GridLine {
  key: string;
  site: string;
  line: string;
  transformer: string;
  meter?: string;
}

export interface MeterPlace {
  site: string;
  transformer: string;
  line?: string;
  /** a customer's own meter (not a meter of the topology's transformers and lines) */
  customer?: string;
}

export class Grid {
  readonly transformers = new Map<string, GridTransformer>();
  readonly lines = new Map<string, GridLine>();
  /** feeder id → `site/transformer` keys */
  readonly feeders = new Map<string, string[]>();
  readonly feederNames = new Map<string, string>();
  readonly meters = new Map<string, MeterPlace>();
  readonly customers = new Map<string, Customer>();
  /** `site/transformer` → customer ids (those of its lines included) */
  private readonly byTransformer = new Map<string, string[]>();
  private readonly byLine = new Map<string, string[]>();
  private readonly byMeter = new Map<string, string>();
  /** customer id → its place in the order of every list (important first, then by id) */
  private readonly rank = new Map<string, number>();

  constructor(topology: Topology, customers: readonly Customer[] = topology.customers ?? []) {
    for (const f of topology.feeders ?? []) {
      this.feeders.set(f.id, []);
      this.feederNames.set(f.id, f.name);
    }
    for (const site of topology.sites)
      for (const room of site.rooms)
        for (const t of room.transformers) {
          const key = `${site.id}/${t.id}`;
          const gt: GridTransformer = { key, site: site.id, room: room.id, transformer: t.id, name: t.name, lines: [] };
          if (t.feeder !== undefined) {
            gt.feeder = t.feeder;
            this.feeders.get(t.feeder)?.push(key);
          }
          if (t.meter !== undefined) {
            gt.meter = t.meter;
            this.meters.set(t.meter, { site: site.id, transformer: t.id });
          }
          for (const l of t.lines) {
            const lk = `${site.id}/${l.id}`;
            gt.lines.push(lk);
            const gl: GridLine = { key: lk, site: site.id, line: l.id, transformer: t.id };
            if (l.meter !== undefined) {
              gl.meter = l.meter;
              this.meters.set(l.meter, { site: site.id, transformer: t.id, line: l.id });
            }
            this.lines.set(lk, gl);
          }
          this.transformers.set(key, gt);
        }
    // important customers first, then by id: every list of customers the pool shows is in this order
    const sorted = [...customers].sort((a, b) => Number(b.important) - Number(a.important) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const c of sorted) {
      this.rank.set(c.id, this.rank.size);
      this.customers.set(c.id, c);
      const tk = `${c.site}/${c.transformer}`;
      push(this.byTransformer, tk, c.id);
      if (c.line !== undefined) push(this.byLine, `${c.site}/${c.line}`, c.id);
      if (c.meter !== undefined) {
        this.byMeter.set(c.meter, c.id);
        if (!this.meters.has(c.meter)) this.meters.set(c.meter, { site: c.site, transformer: c.transformer, ...(c.line !== undefined ? { line: c.line } : {}), customer: c.id });
      }
    }
  }

  customerOfMeter(meter: string): Customer | undefined {
    const id = this.byMeter.get(meter);
    return id === undefined ? undefined : this.customers.get(id);
  }

  /** The transformers (`site/transformer`) a plan element or an outage scope covers; unknown elements cover none. */
  transformersOf(e: PlanScopeElement | OutageScope): string[] {
    if (e.kind === 'feeder') return e.feeder !== undefined ? [...(this.feeders.get(e.feeder) ?? [])] : [];
    if (e.kind === 'transformer') return this.transformers.has(`${e.site}/${e.transformer}`) ? [`${e.site}/${e.transformer}`] : [];
    if (e.kind === 'line') {
      const l = this.lines.get(`${e.site}/${e.line}`);
      return l ? [`${l.site}/${l.transformer}`] : [];
    }
    const m = e.meter !== undefined ? this.meters.get(e.meter) : undefined;
    return m ? [`${m.site}/${m.transformer}`] : [];
  }

  /** Does the element name something that exists? (plans on an unknown scope are refused) */
  known(e: PlanScopeElement): boolean {
    if (e.kind === 'feeder') return this.feeders.has(e.feeder);
    if (e.kind === 'transformer') return this.transformers.has(`${e.site}/${e.transformer}`);
    return this.lines.has(`${e.site}/${e.line}`);
  }

  /** The customers under a plan element or outage scope, important first. */
  customersUnder(e: PlanScopeElement | OutageScope): string[] {
    if (e.kind === 'feeder' || e.kind === 'transformer') return this.transformersOf(e).flatMap((t) => this.byTransformer.get(t) ?? []);
    if (e.kind === 'line') return [...(this.byLine.get(`${e.site}/${e.line}`) ?? [])];
    if (e.meter === undefined) return [];
    const own = this.byMeter.get(e.meter);
    if (own !== undefined) return [own];
    // a topology meter: the customers of its line, or of its transformer
    const m = this.meters.get(e.meter);
    if (!m) return [];
    return m.line !== undefined ? [...(this.byLine.get(`${m.site}/${m.line}`) ?? [])] : [...(this.byTransformer.get(`${m.site}/${m.transformer}`) ?? [])];
  }

  /** Customers of several elements, each once, important first (in the grid's order: sorted by rank, not a pass over every customer). */
  customersOf(elements: readonly (PlanScopeElement | OutageScope)[]): string[] {
    const set = new Set<string>();
    for (const e of elements) for (const id of this.customersUnder(e)) set.add(id);
    return [...set].sort((a, b) => this.rank.get(a)! - this.rank.get(b)!);
  }

  /** The meters (topology and customers') under an outage scope. */
  metersUnder(e: OutageScope): string[] {
    if (e.kind === 'meter') return e.meter !== undefined ? [e.meter] : [];
    const out: string[] = [];
    const lineSet = e.kind === 'line' ? new Set([`${e.site}/${e.line}`]) : null;
    for (const tk of this.transformersOf(e)) {
      const t = this.transformers.get(tk)!;
      if (!lineSet && t.meter) out.push(t.meter);
      for (const lk of t.lines) if (!lineSet || lineSet.has(lk)) {
        const m = this.lines.get(lk)?.meter;
        if (m) out.push(m);
      }
    }
    for (const cid of this.customersUnder(e)) {
      const m = this.customers.get(cid)?.meter;
      if (m && !out.includes(m)) out.push(m);
    }
    return out;
  }

  /**
   * Does the plan element cover the outage scope entirely? A feeder covers its
   * transformers; a transformer its lines and meters; a line its meter and its
   * customers' meters.
   */
  covers(e: PlanScopeElement, s: OutageScope): boolean {
    if (e.kind === 'feeder') {
      if (s.kind === 'feeder') return s.feeder === e.feeder;
      const ts = this.transformersOf(s);
      return ts.length > 0 && ts.every((t) => this.transformers.get(t)?.feeder === e.feeder);
    }
    if (e.kind === 'transformer') {
      if (s.kind === 'feeder') return false;
      const ts = this.transformersOf(s);
      return ts.length === 1 && ts[0] === `${e.site}/${e.transformer}`;
    }
    if (s.kind === 'line') return s.site === e.site && s.line === e.line;
    if (s.kind === 'meter' && s.meter !== undefined) {
      const m = this.meters.get(s.meter);
      return m !== undefined && m.site === e.site && m.line === e.line;
    }
    return false;
  }

  /** The meter that tells whether a customer has supply: its own, else its line's, else its transformer's. */
  meterOfCustomer(c: Customer): string | undefined {
    if (c.meter !== undefined) return c.meter;
    if (c.line !== undefined) {
      const m = this.lines.get(`${c.site}/${c.line}`)?.meter;
      if (m !== undefined) return m;
    }
    return this.transformers.get(`${c.site}/${c.transformer}`)?.meter;
  }

  /** The sites a plan's scope touches. */
  sitesOf(elements: readonly PlanScopeElement[]): string[] {
    const s = new Set<string>();
    for (const e of elements) for (const t of this.transformersOf(e)) s.add(this.transformers.get(t)!.site);
    return [...s].sort();
  }
}

function push(m: Map<string, string[]>, k: string, v: string): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}
