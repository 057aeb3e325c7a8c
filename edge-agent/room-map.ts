/**
 * Pure mapping of a room device's own JSON to canonical quantities: which
 * field (a dotted path) holds which quantity, with scale/offset, booleans as
 * 0/1 (optionally inverted: zigbee2mqtt's `contact: true` means the door is
 * closed, `door` 1 means open), named states (`"ON"` → 1), and where the
 * device's own timestamp is, if it sends one. No I/O, no clock.
 */
import { QUANTITIES, type Quantity, type QuantitySpec } from '../contract/quantities.ts';
import type { Values } from '../contract/readings.ts';

export interface FieldMapping {
  /** dotted path into the payload: `temperature`, `oil.temp`, `sensors.0.value` */
  path: string;
  /** value × scale + offset; default 1 and 0 (°F → °C: scale 0.5556, offset -17.778) */
  scale: number;
  offset: number;
  /** for booleans: true → 0, false → 1 */
  invert: boolean;
  /** named states to numbers: { "open": 1, "closed": 0 } */
  states?: Readonly<Record<string, number>>;
}

export type TimestampFormat = 'ms' | 's' | 'iso';

export interface PayloadMapping {
  map: Readonly<Partial<Record<Quantity, FieldMapping>>>;
  /** where the device's own timestamp is; absent: arrival time */
  ts?: { path: string; format: TimestampFormat };
}

export type MapProblem =
  /** the payload is not a JSON object */
  | 'not_an_object'
  /** none of the mapped fields was there */
  | 'no_values'
  /** a mapped field holds something that is not a number, boolean or known state */
  | 'bad_value'
  /** a value outside the contract's plausible range */
  | 'out_of_range'
  /** the timestamp field is missing or unreadable (arrival time used) */
  | 'bad_ts';

export interface MappedPayload {
  v: Values;
  /** epoch ms from the payload, when mapped and readable */
  ts?: number;
  problems: { problem: MapProblem; quantity?: Quantity; detail?: string }[];
}

/** The value at a dotted path, or undefined. */
export function atPath(x: unknown, path: string): unknown {
  let cur: unknown = x;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function toNumber(raw: unknown, f: FieldMapping): number | undefined {
  if (typeof raw === 'boolean') return raw !== f.invert ? 1 : 0;
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string') {
    if (f.states && Object.prototype.hasOwnProperty.call(f.states, raw)) return f.states[raw];
    const n = Number(raw);
    if (raw.trim() !== '' && Number.isFinite(n)) return n;
  }
  return undefined;
}

function readTs(raw: unknown, format: TimestampFormat): number | undefined {
  switch (format) {
    case 'ms':
      return typeof raw === 'number' && Number.isFinite(raw) ? Math.round(raw) : undefined;
    case 's':
      return typeof raw === 'number' && Number.isFinite(raw) ? Math.round(raw * 1000) : undefined;
    case 'iso': {
      if (typeof raw !== 'string') return undefined;
      const t = Date.parse(raw);
      return Number.isNaN(t) ? undefined : t;
    }
    default: {
      const never: never = format;
      throw new Error(`unknown timestamp format ${String(never)}`);
    }
  }
}

export function mapPayload(payload: unknown, m: PayloadMapping): MappedPayload {
  const out: MappedPayload = { v: {}, problems: [] };
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    out.problems.push({ problem: 'not_an_object' });
    return out;
  }
  for (const [q, f] of Object.entries(m.map) as [Quantity, FieldMapping][]) {
    const raw = atPath(payload, f.path);
    if (raw === undefined || raw === null) continue;
    const n = toNumber(raw, f);
    if (n === undefined) {
      out.problems.push({ problem: 'bad_value', quantity: q, detail: `${f.path} holds ${JSON.stringify(raw).slice(0, 40)}` });
      continue;
    }
    const spec: QuantitySpec = QUANTITIES[q];
    // states pass through as they are; measurements are scaled
    const value = spec.state || typeof raw === 'boolean' || (f.states && typeof raw === 'string' && raw in f.states) ? n : Number((n * f.scale + f.offset).toPrecision(15));
    if (!Number.isFinite(value) || value < spec.min || value > spec.max) {
      out.problems.push({ problem: 'out_of_range', quantity: q, detail: `${value} outside ${spec.min}..${spec.max}` });
      continue;
    }
    out.v[q] = value;
  }
  if (Object.keys(out.v).length === 0 && !out.problems.some((p) => p.problem !== 'bad_ts')) out.problems.push({ problem: 'no_values' });
  if (m.ts) {
    const ts = readTs(atPath(payload, m.ts.path), m.ts.format);
    if (ts === undefined) out.problems.push({ problem: 'bad_ts', detail: m.ts.path });
    else out.ts = ts;
  }
  return out;
}
