/** Line loss per transformer area (docs/energy.md): what other parts of the server use. */
export { LineLossService, type LineLossServiceDeps } from './service.ts';
export { EnergyConfigSchema, type EnergyConfig } from './config.ts';
export { areasOf, metersOf } from './areas.ts';
export { computeInterval, liveEstimate, type MeterCounters } from './compute.ts';
export { intervalStart, intervalsIn, parseUtcOffset } from './intervals.ts';
export { readCounters } from './read.ts';
export { energyRoutes, type EnergyRoutesOptions } from './routes.ts';
export * from './types.ts';
