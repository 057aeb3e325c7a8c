/**
 * The storyline's planned outages and repair calls (config/demo/storyline.yaml,
 * `plan:` and `ticket:` events), handed to the running server's outage pool
 * at their time as a dispatcher would enter them: a plan created as a draft
 * and confirmed (its notices go to the customers' contacts through the SMS
 * gateway), a repair call studied against the live data. The storyline's
 * `repeatS` repeats them with the meters' events, each time a new plan with
 * its window moved along. Done in-process under the user name "demo": the
 * demo has no operator password to log in with.
 */
import type { Logger } from 'pino';
import type { GridwatchServer } from '../server/index.ts';
import { actOn, createPlan, createTicket } from '../server/outages/pool-actions.ts';
import type { DemoGrid } from './demo-grid.ts';
import { isPoolEvent, type PoolEvent, type Storyline } from './demo-storyline.ts';

export const DEMO_USER = 'demo';

/** Starts the timers; returns a stop function. `t0` is the storyline's start (epoch ms). */
export function startPoolStoryline(story: Storyline, grid: DemoGrid, server: GridwatchServer, log: Logger, t0 = Date.now()): () => void {
  const events = story.events.filter(isPoolEvent);
  const site = new Map(grid.topology.sites.flatMap((s) => s.rooms.flatMap((r) => r.transformers.map((tr) => [tr.id, s.id] as const))));
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const run = async (e: PoolEvent, cycleStart: number) => {
    const pool = server.outages;
    if ('plan' in e) {
      const p = e.plan;
      const plan = createPlan(
        pool,
        { scope: [{ kind: 'transformer', site: site.get(p.transformer) ?? '', transformer: p.transformer }], start: cycleStart + p.startS * 1000, end: cycleStart + (p.startS + p.durationS) * 1000, reason: p.reason, workOrder: p.workOrder, crew: p.crew },
        DEMO_USER,
      );
      await pool.flush();
      log.info({ plan: plan.id, transformer: p.transformer, customers: plan.customers.length, startS: p.startS, durationS: p.durationS }, 'demo: planned outage entered');
      if (p.confirm) {
        const done = await actOn(pool, plan.id, { op: 'confirm', by: DEMO_USER, customers: plan.customers.length });
        log.info({ plan: plan.id, state: done.state }, 'demo: planned outage confirmed, notices handed to the gateway');
      }
    } else {
      const t = await createTicket(pool, { customer: e.ticket.customer, time: Date.now(), text: e.ticket.text }, DEMO_USER);
      log.info({ ticket: t.id, customer: e.ticket.customer, verdict: t.verdict, outage: t.outageId }, 'demo: repair call taken');
    }
  };
  const schedule = (cycle: number) => {
    const cycleStart = t0 + cycle * (story.repeatS ?? 0) * 1000;
    for (const e of events) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!stopped) run(e, cycleStart).catch((err: unknown) => log.warn({ err, event: e }, 'demo: outage pool event refused'));
      }, Math.max(0, cycleStart + e.atS * 1000 - Date.now()));
      timers.add(timer);
    }
    if (story.repeatS) {
      const next = setTimeout(() => {
        timers.delete(next);
        if (!stopped) schedule(cycle + 1);
      }, Math.max(0, cycleStart + story.repeatS * 1000 - Date.now()));
      timers.add(next);
    }
  };
  if (events.length) schedule(0);
  return () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
  };
}
