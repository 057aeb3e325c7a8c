/**
 * Scenario files (YAML): which simulated gateways and meters exist, which
 * room sensors publish over MQTT, and a timeline of faults. Validated like
 * every config: one schema, defaults in it, unknown keys
 * rejected, every problem reported at once with its path.
 *
 *   gateways:
 *     - id: gw-101
 *       tcp: { port: 15020 }                    # or rtu: { path: /dev/ttyUSB1, baudRate: 9600 }
 *       units:
 *         - { unit: 1, type: dtsu666, load: feeder, ratedKw: 350 }
 *         - { unit: 2, type: em24, load: residential, seed: 7 }
 *   timeline:
 *     repeatS: 900                              # optional: start over every 15 min
 *     events:
 *       - { atS: 120, gateway: gw-101, unit: 2, fault: { kind: overload, factor: 1.3, rampS: 60 }, durationS: 300 }
 *       - { atS: 500, gateway: gw-101, unit: 1, fault: { kind: sag, depth: 0.8 }, durationS: 20 }
 */
import { z } from 'zod';
import { GARBAGE_MODES, MAX_OVERLOAD_FACTOR, PHASES, type Fault } from './faults.ts';
import { SimulatorError } from './errors.ts';
import { METER_PROFILES } from './meter-model.ts';
import { METER_TYPES } from './maps.ts';
import { SensorConfigSchema } from './room-sensors.ts';

const phases = z.array(z.enum(PHASES)).min(1).optional();
const probability = z.number().min(0).max(1).optional();

export const FaultSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('overload'), factor: z.number().min(0).max(MAX_OVERLOAD_FACTOR).optional(), rampS: z.number().min(0).max(86_400).optional(), vDrop: z.number().min(0).max(0.1).optional() }),
  z.strictObject({ kind: z.literal('sag'), depth: z.number().min(0).max(1).optional(), phases }),
  z.strictObject({ kind: z.literal('swell'), factor: z.number().min(1).max(2).optional(), phases }),
  z.strictObject({ kind: z.literal('phase_loss'), phase: z.enum(PHASES) }),
  z.strictObject({ kind: z.literal('phase_reversal') }),
  z.strictObject({ kind: z.literal('outage') }),
  z.strictObject({ kind: z.literal('unbalance'), percent: z.number().min(0).max(100).optional() }),
  z.strictObject({ kind: z.literal('frozen') }),
  z.strictObject({ kind: z.literal('dead') }),
  z.strictObject({ kind: z.literal('slow'), delayMs: z.number().int().min(0).max(600_000) }),
  z.strictObject({ kind: z.literal('exception'), code: z.number().int().min(1).max(255).optional(), probability }),
  z.strictObject({ kind: z.literal('garbage'), mode: z.enum(GARBAGE_MODES).optional(), probability }),
]);

const UnitSchema = z.strictObject({
  /** Modbus unit id 1..247 */
  unit: z.number().int().min(1).max(247),
  type: z.enum(METER_TYPES).default('dtsu666'),
  /** the daily load curve */
  load: z.enum(METER_PROFILES).default('residential'),
  /** active power at the peak of the curve, kW */
  ratedKw: z.number().positive().max(1_000_000).optional(),
  seed: z.number().int().optional(),
});

export const GatewaySchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1–64 letters, digits, _ . -'),
    tcp: z.strictObject({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535) }).optional(),
    rtu: z.strictObject({ path: z.string().min(1), baudRate: z.number().int().min(300).max(921_600).default(9600) }).optional(),
    units: z.array(UnitSchema).min(1),
  })
  // `when`: checked even when other fields have problems, so it is reported together with them
  .refine((g) => (g.tcp === undefined) !== (g.rtu === undefined), {
    message: 'give exactly one of tcp and rtu',
    when: (p) => typeof p.value === 'object' && p.value !== null,
  });

/** A fault on a meter. */
export const MeterEventSchema = z.strictObject({
  /** seconds from the start of the scenario (of each repetition) */
  atS: z.number().min(0),
  gateway: z.string().min(1),
  unit: z.number().int().min(1).max(247),
  fault: FaultSchema,
  /** how long it lasts; absent: until the scenario ends or the fault is cleared */
  durationS: z.number().positive().optional(),
});

/** Fields of a room sensor's payload set for a while: a door that opens, oil that overheats. */
export const SensorEventSchema = z.strictObject({
  atS: z.number().min(0),
  sensor: z.string().min(1),
  /** dotted paths into the sensor's JSON: `{ contact: false }`, `{ oil.temp: 96 }` */
  set: z.record(z.string().min(1), z.union([z.number(), z.boolean(), z.string()])),
  durationS: z.number().positive().optional(),
});

/** A one-key call (一键呼叫) pressed in a room: published on the room's site call topic with the room agent's credentials. */
export const CallEventSchema = z.strictObject({
  atS: z.number().min(0),
  call: z.strictObject({
    room: z.string().min(1),
    caller: z.strictObject({ name: z.string().min(1).max(64).optional(), phone: z.string().min(1).max(32).optional() }).optional(),
    message: z.string().min(1).max(500).optional(),
  }),
});

export const TimelineEventSchema = z.union([MeterEventSchema, SensorEventSchema, CallEventSchema]);

export const ScenarioSchema = z.strictObject({
  name: z.string().optional(),
  gateways: z.array(GatewaySchema).default([]),
  /** MQTT for the room sensors */
  mqtt: z.strictObject({ url: z.url({ protocol: /^(mqtts?|wss?)$/ }) }).optional(),
  sensors: z.array(SensorConfigSchema).default([]),
  timeline: z
    .strictObject({
      /** start the timeline over after this many seconds */
      repeatS: z.number().positive().optional(),
      events: z.array(TimelineEventSchema).default([]),
    })
    .default({ events: [] }),
});

export type Scenario = z.output<typeof ScenarioSchema>;
export type ScenarioGateway = Scenario['gateways'][number];
export type TimelineEvent = Scenario['timeline']['events'][number];
export type MeterEvent = z.output<typeof MeterEventSchema>;
export type SensorEvent = z.output<typeof SensorEventSchema>;
export type CallEvent = z.output<typeof CallEventSchema>;

export function isMeterEvent(e: TimelineEvent): e is MeterEvent {
  return 'gateway' in e;
}
export function isCallEvent(e: TimelineEvent): e is CallEvent {
  return 'call' in e;
}
export type ScenarioInput = z.input<typeof ScenarioSchema>;

// the schema's fault is the simulator's Fault
const _faultCheck: (f: z.output<typeof FaultSchema>) => Fault = (f) => f;
void _faultCheck;

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : `${out ? '.' : ''}${String(k)}`;
  return out || '(root)';
}

/**
 * Validates a parsed scenario document; throws a SimulatorError listing every
 * problem as `path: message`. For a scenario played against parts started
 * elsewhere (`npm start` builds its gateways from the topology and runs its
 * own broker): `gateways` names those gateways (id → unit ids) for the
 * timeline, `brokerElsewhere` says the room sensors will be given one, and
 * `rooms` the rooms a call event may come from.
 */
export function loadScenario(
  doc: unknown,
  opts: { gateways?: Readonly<Record<string, readonly number[]>>; brokerElsewhere?: boolean; rooms?: readonly string[] } = {},
): Scenario {
  const r = ScenarioSchema.safeParse(doc);
  const issues = r.success
    ? []
    : r.error.issues.flatMap((i) =>
        i.code === 'unrecognized_keys' ? i.keys.map((k) => `${formatPath([...i.path, k])}: unknown key`) : [`${formatPath(i.path)}: ${i.message}`],
      );
  if (r.success) {
    const s = r.data;
    const ids = new Map<string, number>();
    s.gateways.forEach((g, i) => {
      const first = ids.get(g.id);
      if (first !== undefined) issues.push(`gateways[${i}].id: "${g.id}" is already gateways[${first}]`);
      else ids.set(g.id, i);
      const units = new Set<number>();
      g.units.forEach((u, j) => {
        if (units.has(u.unit)) issues.push(`gateways[${i}].units[${j}].unit: unit ${u.unit} given twice`);
        units.add(u.unit);
      });
    });
    s.timeline.events.forEach((e, i) => {
      if (isMeterEvent(e)) {
        const g = s.gateways.find((x) => x.id === e.gateway);
        const units = g ? g.units.map((u) => u.unit) : opts.gateways?.[e.gateway];
        if (!units) issues.push(`timeline.events[${i}].gateway: no gateway "${e.gateway}"`);
        else if (!units.includes(e.unit)) issues.push(`timeline.events[${i}].unit: gateway "${e.gateway}" has no unit ${e.unit}`);
      } else if (isCallEvent(e)) {
        if (!opts.rooms) issues.push(`timeline.events[${i}].call: calls need rooms with agents (npm start)`);
        else if (!opts.rooms.includes(e.call.room)) issues.push(`timeline.events[${i}].call.room: no room "${e.call.room}"`);
      } else if (!s.sensors.some((x) => x.id === e.sensor)) issues.push(`timeline.events[${i}].sensor: no sensor "${e.sensor}"`);
      if (s.timeline.repeatS !== undefined && e.atS >= s.timeline.repeatS) issues.push(`timeline.events[${i}].atS: ${e.atS} is not before repeatS (${s.timeline.repeatS})`);
    });
    if (s.sensors.length > 0 && !s.mqtt && !opts.brokerElsewhere) issues.push('mqtt: room sensors need an MQTT broker url');
    const sensorIds = new Set<string>();
    s.sensors.forEach((x, i) => {
      if (sensorIds.has(x.id)) issues.push(`sensors[${i}].id: "${x.id}" given twice`);
      sensorIds.add(x.id);
    });
    if (!issues.length) return s;
  }
  throw new SimulatorError('GW_ERR_SIM_CONFIG_INVALID', `invalid scenario (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n  - ${issues.join('\n  - ')}`, {
    issues,
  });
}

/**
 * Events whose time falls in (fromMs, toMs] of elapsed scenario time, in
 * order, with the repetition they belong to. Pure: the runner calls it with
 * the elapsed time of its previous and present tick.
 */
export function dueEvents(events: readonly TimelineEvent[], repeatS: number | undefined, fromMs: number, toMs: number): { event: TimelineEvent; atMs: number }[] {
  const out: { event: TimelineEvent; atMs: number }[] = [];
  if (toMs <= fromMs) return out;
  const period = repeatS !== undefined ? repeatS * 1000 : Number.POSITIVE_INFINITY;
  const firstRep = Number.isFinite(period) ? Math.max(0, Math.floor(fromMs / period)) : 0;
  const lastRep = Number.isFinite(period) ? Math.floor(toMs / period) : 0;
  for (let rep = firstRep; rep <= lastRep; rep++) {
    const base = Number.isFinite(period) ? rep * period : 0;
    for (const event of events) {
      const atMs = base + event.atS * 1000;
      // an event at 0 fires at the start: the first tick is (−1, t]
      if (atMs > fromMs && atMs <= toMs) out.push({ event, atMs });
    }
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}
