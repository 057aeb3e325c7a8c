export {
  createInfluxDatabase,
  defaultSearchPath,
  findBinary,
  freePort,
  HarnessError,
  influxQuery,
  startInfluxd,
  startMosquitto,
  type BinaryOptions,
  type HarnessErrorCode,
  type InfluxdOptions,
  type InfluxSeries,
  type InfluxStatementResult,
  type MosquittoOptions,
  type ServiceHandle,
} from './services.ts';
export { natsMappings, startNatsCluster, type NatsCluster, type NatsClusterOptions, type NatsNode } from './cluster.ts';
