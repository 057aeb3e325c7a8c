/** The alarm console and one-key call: split by concern under ./alarms/ (see alarms/index.ts). */
export * from './alarms/index.ts';
