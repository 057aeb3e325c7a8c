/** Service-risk code of supply stations (docs/risk.md). */
export * from './catalogue.ts';
export * from './model.ts';
export * from './score.ts';
export * from './alarm-indicators.ts';
export * from './outage-indicators.ts';
