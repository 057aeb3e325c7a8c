import pino from 'pino';
/** Test logger: silent unless GW_TEST_LOG=debug (or another level) is set. */
export const testLog = pino({ level: process.env.GW_TEST_LOG ?? 'silent' });

/** A pino logger whose lines land in an array. */
export function memoryLog(level = 'debug') {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level }, { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines };
}
