/**
 * The outage pool as one server process composes it: its journal in the
 * readings' store (DuckDB table or InfluxDB measurement), the alarm service,
 * the live hub's latest values and the notification port.
 */
import type { Logger } from 'pino';
import type { Customer, Topology } from '../../contract/index.ts';
import type { AuditLog } from '../audit.ts';
import type { ServerConfig } from '../config.ts';
import type { Notifier } from '../notify/index.ts';
import { DuckDbStore } from '../store/duckdb.ts';
import { InfluxStore } from '../store/influx.ts';
import type { TelemetryStore } from '../store/types.ts';
import { Grid } from './grid.ts';
import { DuckDbPoolJournal, InfluxPoolJournal } from './journal.ts';
import { OutagePool, type PoolAlarms } from './pool.ts';
import { reloadGrid } from './pool-actions.ts';

export type { OutagePool };
import type { LatestReading } from './supply.ts';

/** What the pool needs of the customer store. */
export interface CustomerSource {
  readonly topology: Topology;
  readonly index: { all(): Iterable<Customer> };
  onChange(l: (c: { reason: string; index: { all(): Iterable<Customer> } }) => void): unknown;
}

export function createOutagePool(a: {
  config: ServerConfig;
  store: TelemetryStore;
  alarms: PoolAlarms;
  live: { latest(): readonly LatestReading[] };
  audit: AuditLog;
  topology: Topology;
  /** the customer store (topology + CSV import, server/customers): its index, and its changes recompute the open plans' lists; absent → the topology's customers */
  customers?: CustomerSource;
  notifier?: Notifier | null;
  log: Logger;
  clock?: () => number;
}): OutagePool {
  const customers = a.customers;
  const journal = a.store instanceof InfluxStore ? new InfluxPoolJournal(a.store) : new DuckDbPoolJournal(() => (a.store as DuckDbStore).connect());
  const pool = new OutagePool({
    journal,
    alarms: a.alarms,
    live: a.live,
    notifier: a.notifier ?? null,
    audit: a.audit,
    grid: new Grid(customers?.topology ?? a.topology, customers ? [...customers.index.all()] : (a.topology.customers ?? [])),
    log: a.log,
    options: { ...a.config.outages },
    ...(a.clock ? { clock: a.clock } : {}),
  });
  customers?.onChange((c) => {
    const changed = reloadGrid(pool, new Grid(customers.topology, [...c.index.all()]));
    a.log.info({ reason: c.reason, plans: changed.map((p) => p.id) }, 'customers changed: affected lists of open plans recomputed');
  });
  return pool;
}
