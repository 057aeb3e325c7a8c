/**
 * The customers a server knows: the topology's (YAML) and the imported ones
 * (`<dataDir>/customers.json`, written atomically), one CustomerIndex over
 * both, replaced whole on an import or a topology reload; listeners get the
 * difference (docs/contract.md, Customers). An imported customer whose
 * transformer or line is gone after a reload is kept, not indexed, and listed
 * as unplaced until a new import or topology places it again.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { customerRefIssues, topologyRefs, type Customer, type Topology } from '../../contract/index.ts';
import { ConfigError } from '../errors.ts';
import { loadTopologyFile, type LayoutDiff, type LoadedTopology } from '../topology-file.ts';
import { CustomerIndex, diffIndexes, type CustomerDiff } from './customer-index.ts';
import { parseCustomerCsv, type RejectedRow } from './import.ts';
import type { Encoding } from './csv.ts';

export interface CustomerChange {
  /** epoch ms */
  at: number;
  reason: 'import' | 'topology_reload';
  diff: CustomerDiff;
  index: CustomerIndex;
}

export type CustomerListener = (c: CustomerChange) => void;

export interface ImportOptions {
  /** import the good rows and report the rest (default: nothing unless every row is good) */
  partial?: boolean;
  /** 'merge' (default): add and update by id; 'replace': the file is the whole set of imported customers */
  mode?: 'merge' | 'replace';
  /** check only */
  dryRun?: boolean;
}

export interface ImportReport {
  imported: boolean;
  encoding: Encoding;
  rows: number;
  accepted: number;
  rejected: RejectedRow[];
  noContact: number;
  otherCategory: number;
  added: number;
  updated: number;
  removed: number;
  fatal?: string;
}

export interface Unplaced {
  id: string;
  reason: string;
}

export class CustomerStore {
  private imported: Customer[] = [];
  private idx: CustomerIndex;
  private topo: Topology;
  private unplacedList: Unplaced[] = [];
  private readonly listeners = new Set<CustomerListener>();
  private readonly file: string;
  private serial: Promise<unknown> = Promise.resolve();
  /** puts a reloaded topology's device layout in force everywhere else (server/server.ts), before the customers follow */
  private layout: ((next: LoadedTopology) => LayoutDiff) | null = null;

  constructor(private readonly o: { dataDir: string; topologyFile?: string; topology: Topology; log: Logger; now?: () => number }) {
    this.file = path.join(o.dataDir, 'customers.json');
    this.topo = o.topology;
    this.idx = new CustomerIndex(o.topology);
  }

  async start(): Promise<void> {
    try {
      this.imported = JSON.parse(await readFile(this.file, 'utf8')) as Customer[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.idx = this.build(this.topo);
    this.o.log.info({ customers: this.idx.size, imported: this.imported.length, unplaced: this.unplacedList.length }, 'customers indexed');
    if (this.unplacedList.length) this.o.log.warn({ unplaced: this.unplacedList.slice(0, 20) }, 'imported customers the topology does not place');
  }

  get index(): CustomerIndex {
    return this.idx;
  }

  get topology(): Topology {
    return this.topo;
  }

  unplaced(): readonly Unplaced[] {
    return this.unplacedList;
  }

  /** The server's step that puts a reloaded device layout in force (ingest, alarms, routes); called inside a reload. */
  useLayout(apply: (next: LoadedTopology) => LayoutDiff): void {
    this.layout = apply;
  }

  onChange(l: CustomerListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** One import or reload at a time. */
  private serialize<T>(f: () => Promise<T>): Promise<T> {
    const p = this.serial.then(f, f);
    this.serial = p.catch(() => undefined);
    return p;
  }

  import(csv: Uint8Array, opts: ImportOptions = {}): Promise<ImportReport> {
    return this.serialize(async () => {
      const parsed = parseCustomerCsv(csv, this.topo);
      const rep: ImportReport = {
        imported: false, encoding: parsed.encoding, rows: parsed.rows, accepted: 0, rejected: parsed.rejected,
        noContact: parsed.noContact, otherCategory: parsed.otherCategory, added: 0, updated: 0, removed: 0,
      };
      if (parsed.fatal) return { ...rep, fatal: parsed.fatal };
      // the topology's own customers stay authoritative
      const good = parsed.customers.filter(({ line, customer }) => {
        const c = this.idx.customerById(customer.id);
        if (c?.source === 'topology') {
          rep.rejected.push({ line, id: customer.id, reason: `customer "${customer.id}" is defined in the topology file` });
          return false;
        }
        return true;
      });
      const next = new Map(opts.mode === 'replace' ? [] : this.imported.map((c) => [c.id, c]));
      if (opts.mode === 'replace') {
        // a rejected row keeps the record it had: a bad line must not delete a customer
        const rejectedIds = new Set(rep.rejected.map((r) => r.id).filter(Boolean));
        for (const c of this.imported) if (rejectedIds.has(c.id)) next.set(c.id, c);
      }
      // meters unique across kept and new customers
      const meterOwner = new Map<string, string>();
      for (const c of this.idx.all()) if (c.meter && c.source === 'topology') meterOwner.set(c.meter, c.id);
      const newIds = new Set(good.map((g) => g.customer.id));
      for (const c of next.values()) if (c.meter && !newIds.has(c.id)) meterOwner.set(c.meter, c.id);
      const accepted: Customer[] = [];
      for (const { line, customer } of good) {
        const owner = customer.meter ? meterOwner.get(customer.meter) : undefined;
        if (owner !== undefined && owner !== customer.id) {
          rep.rejected.push({ line, id: customer.id, reason: `meter "${customer.meter}" already belongs to customer "${owner}"` });
          continue;
        }
        accepted.push(customer);
      }
      rep.rejected.sort((a, b) => a.line - b.line);
      rep.accepted = accepted.length;
      if ((rep.rejected.length && !opts.partial) || opts.dryRun) return rep;
      const before = new Map(this.imported.map((c) => [c.id, c]));
      for (const c of accepted) {
        if (before.has(c.id)) rep.updated++;
        else rep.added++;
        next.set(c.id, c);
      }
      for (const id of before.keys()) if (!next.has(id)) rep.removed++;
      await this.save([...next.values()]);
      this.imported = [...next.values()];
      this.swap(this.build(this.topo), 'import');
      rep.imported = true;
      return rep;
    });
  }

  /**
   * Re-reads the topology file; an invalid file changes nothing (ConfigError with every problem).
   * The device layout goes first (readings of a new room are placed from then on), then the
   * customers, whose listeners recompute the open plans' lists against both.
   */
  reloadTopology(): Promise<{ diff: CustomerDiff; unplaced: readonly Unplaced[]; layout?: LayoutDiff }> {
    return this.serialize(async () => {
      // without a file the server runs on a topology it was handed: reloading "nothing" would empty it
      if (!this.o.topologyFile) throw new ConfigError('topology', ['no topology file configured (topologyFile): nothing to reload'], 'GW_ERR_TOPOLOGY_INVALID');
      const loaded = await loadTopologyFile(this.o.topologyFile);
      const layout = this.layout?.(loaded);
      // the layout step updates the server's topology in place; without one this store keeps the new object
      if (!layout) this.topo = loaded.topology;
      const diff = this.swap(this.build(loaded.topology), 'topology_reload');
      return { diff, unplaced: this.unplacedList, ...(layout ? { layout } : {}) };
    });
  }

  private build(t: Topology): CustomerIndex {
    const refs = topologyRefs(t);
    const own = new Set((t.customers ?? []).map((c) => c.id));
    const placed: Customer[] = [];
    const unplaced: Unplaced[] = [];
    for (const c of this.imported) {
      if (own.has(c.id)) {
        unplaced.push({ id: c.id, reason: 'the topology file now defines this customer' });
        continue;
      }
      const issues = customerRefIssues(refs, c);
      if (issues.length) unplaced.push({ id: c.id, reason: issues.map((i) => i.message).join('; ') });
      else placed.push(c);
    }
    this.unplacedList = unplaced;
    return new CustomerIndex(t, placed);
  }

  private swap(next: CustomerIndex, reason: CustomerChange['reason']): CustomerDiff {
    const diff = diffIndexes(this.idx, next);
    this.idx = next;
    const change: CustomerChange = { at: (this.o.now ?? Date.now)(), reason, diff, index: next };
    this.o.log.info({ reason, added: diff.added.length, removed: diff.removed.length, changed: diff.changed.length, moved: diff.transformersMoved.length }, 'customers changed');
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        this.o.log.warn({ err }, 'customer change listener failed');
      }
    }
    return diff;
  }

  private async save(list: Customer[]): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.write(JSON.stringify(list));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file);
  }
}
