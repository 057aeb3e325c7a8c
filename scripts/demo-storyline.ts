/**
 * The demo's storyline (config/demo/storyline.yaml): a timeline of events on
 * the generated grid, named by transformer, meter, sensor or room instead of
 * simulator gateway and unit. `storylineScenario` turns it into a simulator
 * scenario (simulators/scenario.ts) whose gateways are the meters themselves
 * (`gateway: <meter id>, unit: 1`); every problem is reported at once.
 */
import { z } from 'zod';
import { FaultSchema, loadScenario, SimulatorError, type Scenario } from '../simulators/index.ts';
import type { DemoGrid } from './demo-grid.ts';

const atS = z.number().min(0);
const durationS = z.number().positive().optional();
const StorylineEventSchema = z.union([
  z.strictObject({ atS, transformer: z.string().min(1), fault: FaultSchema, durationS }),
  z.strictObject({ atS, meter: z.string().min(1), fault: FaultSchema, durationS }),
  z.strictObject({ atS, sensor: z.string().min(1), set: z.record(z.string().min(1), z.union([z.number(), z.boolean(), z.string()])), durationS }),
  z.strictObject({ atS, call: z.record(z.string(), z.unknown()) }),
  // a planned outage entered by the dispatcher at `atS` (and confirmed, so its notices go out): its window is startS … startS + durationS
  z.strictObject({
    atS,
    plan: z.strictObject({
      transformer: z.string().min(1),
      startS: z.number().min(0),
      durationS: z.number().positive(),
      reason: z.string().min(1),
      workOrder: z.string().default(''),
      crew: z.string().default(''),
      confirm: z.boolean().default(true),
    }),
  }),
  // a repair call (报修) from a customer
  z.strictObject({ atS, ticket: z.strictObject({ customer: z.string().min(1), text: z.string().min(1) }) }),
]);

export const StorylineSchema = z.strictObject({
  name: z.string().optional(),
  repeatS: z.number().positive().optional(),
  events: z.array(StorylineEventSchema).default([]),
});
export type Storyline = z.output<typeof StorylineSchema>;
export type StorylineEvent = Storyline['events'][number];
export type PoolEvent = Extract<StorylineEvent, { plan: unknown } | { ticket: unknown }>;
export const isPoolEvent = (e: StorylineEvent): e is PoolEvent => 'plan' in e || 'ticket' in e;

/** The transformer a customer of the grid hangs on, or undefined. */
function customerTransformer(grid: DemoGrid, id: string): string | undefined {
  return grid.topology.customers?.find((c) => c.id === id)?.transformer;
}

/** The rooms a storyline's events touch. */
export function storylineRooms(s: Storyline, grid: DemoGrid): Set<string> {
  const rooms = new Set<string>();
  for (const e of s.events) {
    const tr = 'plan' in e ? e.plan.transformer : 'ticket' in e ? customerTransformer(grid, e.ticket.customer) : 'transformer' in e ? e.transformer : undefined;
    const room = grid.rooms.find((r) =>
      tr !== undefined
        ? r.meters.some((m) => m.transformer === tr)
        : 'meter' in e
          ? r.meters.some((m) => m.id === e.meter)
          : 'sensor' in e
            ? r.sensors.some((x) => x.id === e.sensor)
            : 'call' in e && r.id === (e.call as { room?: unknown }).room,
    );
    if (room) rooms.add(room.id);
  }
  return rooms;
}

/** Parses a storyline document and makes the scenario for `grid` (its sensors, its meters as gateways). */
export function storylineScenario(doc: unknown, grid: DemoGrid): Scenario {
  const r = StorylineSchema.safeParse(doc);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `invalid storyline (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  - ${issues.join('\n  - ')}`, { issues });
  }
  const meters = grid.rooms.flatMap((x) => x.meters);
  const issues: string[] = [];
  const events: unknown[] = [];
  r.data.events.forEach((e, i) => {
    if ('plan' in e) {
      if (!meters.some((m) => m.transformer === e.plan.transformer)) issues.push(`events[${i}].plan.transformer: no transformer "${e.plan.transformer}" in the grid`);
    } else if ('ticket' in e) {
      if (customerTransformer(grid, e.ticket.customer) === undefined) issues.push(`events[${i}].ticket.customer: no customer "${e.ticket.customer}" in the grid`);
    } else if ('transformer' in e) {
      const under = meters.filter((m) => m.transformer === e.transformer);
      if (under.length === 0) issues.push(`events[${i}].transformer: no transformer "${e.transformer}" in the grid`);
      for (const m of under) events.push({ atS: e.atS, gateway: m.id, unit: 1, fault: e.fault, ...(e.durationS !== undefined ? { durationS: e.durationS } : {}) });
    } else if ('meter' in e) {
      if (!meters.some((m) => m.id === e.meter)) issues.push(`events[${i}].meter: no meter "${e.meter}" in the grid`);
      events.push({ atS: e.atS, gateway: e.meter, unit: 1, fault: e.fault, ...(e.durationS !== undefined ? { durationS: e.durationS } : {}) });
    } else events.push(e);
  });
  if (issues.length) throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `invalid storyline (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  - ${issues.join('\n  - ')}`, { issues });
  const scenario = {
    ...(r.data.name !== undefined ? { name: r.data.name } : {}),
    sensors: grid.rooms.flatMap((x) => x.sensors),
    timeline: { ...(r.data.repeatS !== undefined ? { repeatS: r.data.repeatS } : {}), events },
  };
  return loadScenario(scenario, { gateways: Object.fromEntries(meters.map((m) => [m.id, [1]])), brokerElsewhere: true, rooms: grid.rooms.map((x) => x.id) });
}
