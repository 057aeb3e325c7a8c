/** The wire contract: the one thing every part of gridwatch shares. */
export * from './quantities.ts';
export * from './topics.ts';
export * from './readings.ts';
export * from './topology.ts';
export * from './call.ts';
export * from './frames.ts';
export * from './risk.ts';
