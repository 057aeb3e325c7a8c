import pino from 'pino';
/** Test logger: silent unless GW_TEST_LOG=debug (or another level) is set. */
export const testLog = pino({ level: process.env.GW_TEST_LOG ?? 'silent' });
