/** The outage pool (docs/outages.md): measured and planned outages, reconciliation, findings, repair calls. */
export { OutagePool, type PoolAlarms, type PoolDeps } from './pool.ts';
export { outageRoutes } from './routes.ts';
export { reloadGrid } from './pool-actions.ts';
export { Grid } from './grid.ts';
export { DuckDbPoolJournal, InfluxPoolJournal, type PoolJournal, type PoolEntry } from './journal.ts';
export * from './types.ts';
