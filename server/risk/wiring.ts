/**
 * The risk runtime as one server process composes it: the model file, the
 * history in the readings' store (DuckDB table or InfluxDB measurement
 * `risk_day`), and the inputs from the outage pool, the alarm journal, the
 * store's voltages and line-loss figures.
 */
import type { Logger } from 'pino';
import type { Topology } from '../../contract/index.ts';
import type { AlarmService } from '../alarms/index.ts';
import type { OutagePool } from '../outages/pool.ts';
import { StationIndex } from '../scope.ts';
import { DuckDbStore } from '../store/duckdb.ts';
import { InfluxStore } from '../store/influx.ts';
import type { TelemetryStore } from '../store/types.ts';
import { DuckDbRiskHistory, InfluxRiskHistory } from './history.ts';
import { RiskInputs } from './inputs.ts';
import type { RiskModel } from './model.ts';
import { RiskService } from './service.ts';

export function createRiskService(a: {
  model: RiskModel;
  store: TelemetryStore;
  topology: Topology;
  alarms: AlarmService;
  pool: OutagePool;
  log: Logger;
  clock?: () => number;
}): RiskService {
  const history = a.store instanceof InfluxStore ? new InfluxRiskHistory(a.store) : new DuckDbRiskHistory(() => (a.store as DuckDbStore).connect());
  // rebuilt when a topology reload replaces the sites (the topology object is updated in place)
  let stations = new StationIndex(a.topology);
  let indexed = a.topology.sites;
  const stationIndex = () => {
    if (indexed !== a.topology.sites) {
      indexed = a.topology.sites;
      stations = new StationIndex(a.topology);
    }
    return stations;
  };
  const inputs = new RiskInputs({
    sites: () => a.topology.sites,
    store: a.store,
    pool: a.pool,
    alarms: {
      journalEntries: (q) => a.alarms.journalEntries(q),
      callRules: () => new Set(a.alarms.rulesInfo().rules.filter((r) => r.kind === 'call').map((r) => r.id)),
    },
    stationOfSource: (s) => stationIndex().siteOfSource(s),
    timezone: a.model.timezone,
  });
  return new RiskService({ model: a.model, history, inputs, sites: () => a.topology.sites, log: a.log, ...(a.clock ? { clock: a.clock } : {}) });
}
