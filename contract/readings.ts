/**
 * Readings payload of the wire contract and its validator.
 *
 * Hand-written rather than a schema library: it runs once per message on the
 * ingest hot path, must name every error with its path, and `contract/`
 * depends on nothing.
 */
import { QUANTITIES, isQuantity, type Quantity, type QuantitySpec } from './quantities.ts';
import { isTopicId } from './topics.ts';

export const QUALITIES = ['good', 'stale', 'comm_loss'] as const;
export type Quality = (typeof QUALITIES)[number];

export type Values = Partial<Record<Quantity, number>>;

export interface Reading {
  /** device id as in the topology; any text up to 256 characters */
  device: string;
  /** epoch milliseconds at which the agent polled the device (not arrival time) */
  ts: number;
  /** per-agent counter, strictly increasing in the order the agent read */
  seq: number;
  v: Values;
  q: Quality;
  /** sent late from the agent's spool: stored, never alarmed on as live */
  late?: boolean;
}

export interface ReadingsMessage {
  agent: string;
  readings: Reading[];
  /**
   * The oldest seq the agent still holds in its spool: every seq of this agent
   * below it is settled — stored (the server's watermark covered it) or
   * dropped by the spool quota (counted in `lost_readings`) — and will never
   * be sent again, so the server's watermark need not wait for it.
   * Absent: the server assumes nothing about seqs it has not seen.
   */
  from?: number;
  /**
   * The next seq the agent will number (one past the newest it has read). A
   * server whose watermark for this agent is at or above it is holding the
   * watermark of an earlier spool of the agent (a new disk, a clock set
   * back) and starts the agent's watermark again at `from`.
   */
  next?: number;
  /**
   * Seq ranges (inclusive) the agent will never send: lines of its spool it
   * could not read back (corrupted on disk, or lost with the page cache in a
   * power cut). They are gone; the server counts them as handled so its
   * watermark does not wait for them forever.
   */
  skip?: [number, number][];
}

/**
 * The pseudo-device an agent reports its own spool on (`lost_readings`);
 * not part of any topology.
 */
export function spoolDeviceId(agent: string): string {
  return `${agent}.spool`;
}

const SPOOL_SUFFIX = '.spool';

/** Whether a device id is an agent's spool pseudo-device (`<agent id>.spool`); a topology never uses such an id for a meter. */
export function isSpoolDeviceId(device: string): boolean {
  return device.endsWith(SPOOL_SUFFIX) && isTopicId(device.slice(0, -SPOOL_SUFFIX.length));
}

/** Stable reasons, used as metric labels and in dead-letter logs. */
export type RejectReason =
  | 'too_large'
  | 'invalid_json'
  | 'wrong_type'
  | 'missing_field'
  | 'unknown_key'
  | 'unknown_quantity'
  | 'derived_quantity'
  | 'out_of_range'
  | 'not_finite'
  | 'too_many'
  | 'agent_mismatch'
  | 'too_deep'
  | 'bad_topic';

export interface ContractError {
  path: string;
  reason: RejectReason;
  message: string;
}

export const LIMITS = {
  /** readings in one message */
  maxReadingsPerMessage: 10_000,
  /** seq ranges in a message's `skip` */
  maxSkipRanges: 1000,
  maxDeviceIdLength: 256,
  /** a payload larger than this is rejected before parsing */
  maxMessageBytes: 4 * 1024 * 1024,
  /**
   * JSON nesting deeper than this is rejected before parsing, in payloads
   * over 64 KB (a message needs 4: message, readings, reading, v): 4 MB of
   * brackets kept JSON.parse busy for seconds, several times a flat payload
   * of that size
   */
  maxDepth: 16,
  /** members of one JSON object, in payloads over 64 KB (a reading's `v` has at most the quantities) */
  maxMembers: 256,
  /** 2000-01-01 .. 2100-01-01: anything else is a clock or encoding fault */
  minTs: 946_684_800_000,
  maxTs: 4_102_444_800_000,
} as const;

export interface ValidatedMessage {
  agent: string;
  /** readings that passed */
  readings: Reading[];
  /** errors of readings that were dropped (the rest of the message is kept) */
  rejected: ContractError[];
  /** the seqs of the dropped readings that carried a usable one: handled, though not stored */
  rejectedSeqs: number[];
  from?: number;
  next?: number;
  skip?: [number, number][];
}

export type ValidationResult =
  | { ok: true; value: ValidatedMessage }
  | { ok: false; errors: ContractError[] };

const MESSAGE_KEYS = new Set(['agent', 'readings', 'from', 'next', 'skip']);
const READING_KEYS = new Set(['device', 'ts', 'seq', 'v', 'q', 'late']);

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function err(path: string, reason: RejectReason, message: string): ContractError {
  return { path, reason, message };
}

/** Validates one reading; pushes its errors and returns it when valid. */
export function validateReading(x: unknown, path: string, errors: ContractError[]): Reading | null {
  const before = errors.length;
  if (!isPlainObject(x)) {
    errors.push(err(path, 'wrong_type', 'reading must be an object'));
    return null;
  }
  for (const k in x) {
    if (!READING_KEYS.has(k)) errors.push(err(`${path}.${k}`, 'unknown_key', `unknown key "${k}"`));
  }
  const { device, ts, seq, v, q, late } = x;
  if (device === undefined) errors.push(err(`${path}.device`, 'missing_field', 'device is required'));
  else if (typeof device !== 'string' || device.length === 0 || device.length > LIMITS.maxDeviceIdLength)
    errors.push(err(`${path}.device`, 'wrong_type', `device must be a string of 1..${LIMITS.maxDeviceIdLength} characters`));
  if (ts === undefined) errors.push(err(`${path}.ts`, 'missing_field', 'ts is required'));
  else if (typeof ts !== 'number' || !Number.isInteger(ts)) errors.push(err(`${path}.ts`, 'wrong_type', 'ts must be integer epoch milliseconds'));
  else if (ts < LIMITS.minTs || ts > LIMITS.maxTs) errors.push(err(`${path}.ts`, 'out_of_range', `ts ${ts} outside 2000..2100`));
  if (seq === undefined) errors.push(err(`${path}.seq`, 'missing_field', 'seq is required'));
  else if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) errors.push(err(`${path}.seq`, 'wrong_type', 'seq must be a non-negative integer'));
  if (q === undefined) errors.push(err(`${path}.q`, 'missing_field', 'q is required'));
  else if (typeof q !== 'string' || !(QUALITIES as readonly string[]).includes(q)) errors.push(err(`${path}.q`, 'wrong_type', `q must be one of ${QUALITIES.join(', ')}`));
  if (late !== undefined && typeof late !== 'boolean') errors.push(err(`${path}.late`, 'wrong_type', 'late must be a boolean'));
  if (v === undefined) errors.push(err(`${path}.v`, 'missing_field', 'v is required'));
  else if (!isPlainObject(v)) errors.push(err(`${path}.v`, 'wrong_type', 'v must be an object of quantity → number'));
  else {
    let count = 0;
    // for…in over a JSON.parse result sees own keys only (no prototype keys), without allocating entries
    for (const name in v) {
      count++;
      const value = v[name];
      if (!isQuantity(name)) {
        errors.push(err(`${path}.v.${name}`, 'unknown_quantity', `"${name}" is not a canonical quantity`));
        continue;
      }
      const spec: QuantitySpec = QUANTITIES[name];
      if (typeof value === 'number' && value >= spec.min && value <= spec.max && !spec.derived && !spec.integer) continue; // the common case
      if (spec.integer && Number.isSafeInteger(value) && (value as number) >= spec.min && (value as number) <= spec.max) continue;
      const p = `${path}.v.${name}`;
      if (spec.derived) errors.push(err(p, 'derived_quantity', `"${name}" is derived by the server and may not be sent`));
      else if (typeof value !== 'number') errors.push(err(p, 'wrong_type', 'value must be a number'));
      else if (!Number.isFinite(value)) errors.push(err(p, 'not_finite', 'value must be finite'));
      else if (spec.integer && !Number.isInteger(value)) errors.push(err(p, 'wrong_type', `"${name}" is a count: a whole number`));
      else errors.push(err(p, 'out_of_range', `${value} outside plausible range ${spec.min}..${spec.max} ${spec.unit}`));
    }
    if (q === 'comm_loss' && count > 0)
      errors.push(err(`${path}.v`, 'wrong_type', 'a comm_loss reading carries no values'));
  }
  if (errors.length > before) return null;
  const r: Reading = { device: device as string, ts: ts as number, seq: seq as number, v: v as Values, q: q as Quality };
  if (late === true) r.late = true;
  return r;
}

/**
 * Validates a parsed readings message. `expectedAgent` is the agent named by
 * the topic: a message may only speak for the agent whose topic it is on.
 */
export function validateReadingsMessage(x: unknown, expectedAgent?: string): ValidationResult {
  const errors: ContractError[] = [];
  if (!isPlainObject(x)) return { ok: false, errors: [err('', 'wrong_type', 'message must be a JSON object')] };
  for (const k of Object.keys(x)) {
    if (!MESSAGE_KEYS.has(k)) errors.push(err(k, 'unknown_key', `unknown key "${k}"`));
  }
  const { agent, readings, from, next, skip } = x;
  for (const [k, n] of [['from', from], ['next', next]] as const) {
    if (n !== undefined && (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)) errors.push(err(k, 'wrong_type', `${k} must be a non-negative integer seq`));
  }
  if (typeof from === 'number' && typeof next === 'number' && from > next) errors.push(err('from', 'out_of_range', `from ${from} is past next ${next}`));
  if (skip !== undefined) {
    if (!Array.isArray(skip) || skip.length > LIMITS.maxSkipRanges) errors.push(err('skip', 'wrong_type', `skip must be an array of at most ${LIMITS.maxSkipRanges} [from, to] seq ranges`));
    else
      skip.forEach((r: unknown, i) => {
        const ok = Array.isArray(r) && r.length === 2 && r.every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) && (r[0] as number) <= (r[1] as number);
        if (!ok) errors.push(err(`skip[${i}]`, 'wrong_type', 'a skipped range is [from, to]: seqs, from ≤ to'));
      });
  }
  if (agent === undefined) errors.push(err('agent', 'missing_field', 'agent is required'));
  else if (typeof agent !== 'string' || !isTopicId(agent)) errors.push(err('agent', 'wrong_type', 'agent must be a topic-safe id'));
  else if (expectedAgent !== undefined && agent !== expectedAgent)
    errors.push(err('agent', 'agent_mismatch', `agent "${agent}" published on the topic of "${expectedAgent}"`));
  if (readings === undefined) errors.push(err('readings', 'missing_field', 'readings is required'));
  else if (!Array.isArray(readings)) errors.push(err('readings', 'wrong_type', 'readings must be an array'));
  else if (readings.length > LIMITS.maxReadingsPerMessage)
    errors.push(err('readings', 'too_many', `${readings.length} readings exceed ${LIMITS.maxReadingsPerMessage}`));
  if (errors.length > 0) return { ok: false, errors };

  const good: Reading[] = [];
  const rejected: ContractError[] = [];
  const rejectedSeqs: number[] = [];
  const list = readings as unknown[];
  for (let i = 0; i < list.length; i++) {
    const r = validateReading(list[i], `readings[${i}]`, rejected);
    if (r) good.push(r);
    else {
      const seq = isPlainObject(list[i]) ? (list[i] as Record<string, unknown>).seq : undefined;
      if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) rejectedSeqs.push(seq);
    }
  }
  const value: ValidatedMessage = { agent: agent as string, readings: good, rejected, rejectedSeqs };
  if (from !== undefined) value.from = from as number;
  if (next !== undefined) value.next = next as number;
  if (skip !== undefined) value.skip = skip as [number, number][];
  return { ok: true, value };
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Parses and validates a raw MQTT payload (bytes must be UTF-8). Never throws. */
export function parseReadingsPayload(payload: Uint8Array | string, expectedAgent?: string): ValidationResult {
  const size = typeof payload === 'string' ? utf8.encode(payload).byteLength : payload.byteLength;
  if (size > LIMITS.maxMessageBytes)
    return { ok: false, errors: [err('', 'too_large', `${size} bytes exceed ${LIMITS.maxMessageBytes}`)] };
  // a shorter payload parses quickly whatever its shape (64 KB of brackets ~10 ms, of keys ~25 ms); the scan costs a fifth of a parse
  const shape = size > SHAPE_SCAN_BYTES ? jsonShape(payload, LIMITS.maxDepth, LIMITS.maxMembers) : null;
  if (shape === 'too_deep') return { ok: false, errors: [err('', 'too_deep', `JSON nested deeper than ${LIMITS.maxDepth}`)] };
  if (shape === 'too_many') return { ok: false, errors: [err('', 'too_many', `a JSON object of more than ${LIMITS.maxMembers} members`)] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof payload === 'string' ? payload : utf8Decoder.decode(payload));
  } catch (e) {
    return { ok: false, errors: [err('', 'invalid_json', (e as Error).message)] };
  }
  return validateReadingsMessage(parsed, expectedAgent);
}

/** payloads larger than this are scanned for their shape (jsonShape) before JSON.parse */
const SHAPE_SCAN_BYTES = 64 * 1024;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * What makes JSON text costly to parse beyond its size: arrays and objects
 * nested deeper than `maxDepth` ('too_deep'), or an object of more than
 * `maxMembers` members ('too_many': V8 keeps such an object as a hash table,
 * and 250,000 keys took JSON.parse over a second). Brackets and commas inside
 * strings do not count. Null when neither. Never throws.
 */
export function jsonShape(payload: Uint8Array | string, maxDepth: number, maxMembers: number): 'too_deep' | 'too_many' | null {
  const bytes = typeof payload === 'string' ? utf8.encode(payload) : payload;
  const n = bytes.length;
  // per open level: the members seen so far of an object, −1 for an array
  const members = new Int32Array(maxDepth + 1);
  let depth = 0;
  let inString = false;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return 'too_deep';
      members[depth] = c === 0x7b ? 1 : -1;
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && depth > 0 && members[depth]! > 0 && ++members[depth]! > maxMembers) return 'too_many';
  }
  return null;
}

/** Watermark published by the server (retained) on `watermarkTopic(agent)`. */
export interface WatermarkMessage {
  agent: string;
  /**
   * every seq of this agent ≤ this is handled: durably stored, rejected by
   * validation (counted, never stored), or settled by the agent itself
   * (below a message's `from`). It only moves over consecutive seqs: a seq
   * the server has not seen holds it, however many later ones are stored.
   */
  seq: number;
  /** epoch ms when the server published it */
  at: number;
}
