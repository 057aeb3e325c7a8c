/** Service-risk code of supply stations (docs/risk.md). */
export * from './catalogue.ts';
export * from './model.ts';
export * from './score.ts';
export * from './alarm-indicators.ts';
export * from './outage-indicators.ts';
export * from './call-indicators.ts';
export * from './notice-indicators.ts';
export * from './days.ts';
export * from './history.ts';
export * from './inputs.ts';
export * from './service.ts';
export * from './routes.ts';
export * from './wiring.ts';
export * from './store-indicators.ts';
