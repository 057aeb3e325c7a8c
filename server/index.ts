export { createServer, type GridwatchServer } from './server.ts';
export { loadServerConfig, configFromEnv, ENV_MAP, ServerConfigSchema, type ServerConfig } from './config.ts';
export { loadTopologyFile, topologyFromYaml, type LoadedTopology } from './topology-file.ts';
export { InfluxStore } from './store/influx.ts';
export { DuckDbStore } from './store/duckdb.ts';
export type { TelemetryStore, StoredReading, HistoryQuery, HistorySeries } from './store/types.ts';
export type { LiveReading, ServerFrame } from './live-hub.ts';
export { ConfigError, GridwatchError } from './errors.ts';
