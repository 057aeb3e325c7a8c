/** Risk items: the closed loop of the service-risk code (docs/risk.md, Closed loop). */
export { RiskItems, type ItemFilter, type RiskItemsOptions } from './service.ts';
export { riskItemRoutes } from './routes.ts';
export { createRiskItems } from './wiring.ts';
export { applyStep, followUpStep, overdueSteps, stepsForDays, verifyStep, type ItemOptions, type ItemStep } from './lifecycle.ts';
