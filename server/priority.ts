/**
 * The scheduling priority of the event-loop thread. That one thread parses
 * every message, runs the rules and pushes the alarms; on a machine it
 * shares with the store (influxd compacting on every core) it otherwise
 * waits in the run queue behind threads that are in no hurry: measured in
 * bench/alarms.ts, 100–380 ms of every second runnable but not running at
 * the default priority, 30–85 ms at nice −10, and the alarm p99 with it.
 *
 * Linux keeps the nice value per thread: only this thread is raised, not
 * V8's and libuv's helper threads that already exist (threads created
 * afterwards inherit it, so this runs once the server has started).
 * Raising needs CAP_SYS_NICE (docker-compose.yml adds it) or a nice rlimit;
 * without either the server runs as it is and says so.
 */
import os from 'node:os';
import type { Logger } from 'pino';

/** Sets the calling thread's nice value to `nice`; returns what puts the previous one back. */
export function setThreadPriority(nice: number, log: Pick<Logger, 'info' | 'warn'>): () => void {
  const before = os.getPriority();
  if (before === nice) return () => undefined;
  try {
    os.setPriority(nice);
  } catch (err) {
    log.warn(
      // Node wraps the errno (EACCES) in ERR_SYSTEM_ERROR
      { nice, current: before, code: (err as { info?: { code?: string } }).info?.code ?? (err as NodeJS.ErrnoException).code },
      'cannot set the event-loop thread priority (needs CAP_SYS_NICE or a nice rlimit): running at the current one, alarm latency suffers when the CPU is shared',
    );
    return () => undefined;
  }
  log.info({ nice, before }, 'event-loop thread priority set');
  return () => {
    try {
      if (os.getPriority() === nice) os.setPriority(before);
    } catch {
      // lowering a priority is always allowed; raising it back to a higher one may not be
    }
  };
}
