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

export type { OutagePool };
import type { LatestReading } from './supply.ts';

export function createOutagePool(a: {
  config: ServerConfig;
  store: TelemetryStore;
  alarms: PoolAlarms;
  live: { latest(filter: { devices: string[] }): readonly LatestReading[] };
  audit: AuditLog;
  topology: Topology;
  /** customers beyond the topology's own (the CSV import); absent → the topology's */
  customers?: readonly Customer[];
  notifier?: Notifier | null;
  log: Logger;
  clock?: () => number;
}): OutagePool {
  const journal = a.store instanceof InfluxStore ? new InfluxPoolJournal(a.store) : new DuckDbPoolJournal(() => (a.store as DuckDbStore).connect());
  return new OutagePool({
    journal,
    alarms: a.alarms,
    live: a.live,
    notifier: a.notifier ?? null,
    audit: a.audit,
    grid: new Grid(a.topology, a.customers ?? a.topology.customers ?? []),
    log: a.log,
    options: { ...a.config.outages },
    ...(a.clock ? { clock: a.clock } : {}),
  });
}
