/**
 * One-key call payload (一键呼叫) on `gridwatch/v1/{site}/call` and its
 * validator. Every key is optional: any message on the topic is a press,
 * and an empty one (or one that is not JSON) still is — a call is never lost
 * to a bad field. What does not validate is left out of the call and named
 * in `errors`, so it can be logged and counted.
 *
 * ```json
 * { "ts": 1767225600000, "room": "r12", "caller": { "name": "王工", "phone": "+86 138 0000 0000" },
 *   "message": "transformer 2# smoking" }
 * ```
 */
import { isTopicId } from './topics.ts';

export interface CallMessage {
  /** epoch ms at which the button was pressed (the site's clock); absent → arrival time */
  ts?: number;
  /** the room the call comes from: a topology room id of the site */
  room?: string;
  caller?: { name?: string; phone?: string };
  /** free text from the caller */
  message?: string;
}

export const CALL_LIMITS = {
  /** payload bytes; a larger message is ignored as a whole */
  bytes: 4096,
  name: 64,
  phone: 32,
  message: 500,
} as const;

export interface CallValidation {
  call: CallMessage;
  /** what was left out, by path: `caller.phone: …` */
  errors: string[];
}

const CALL_KEYS = new Set(['ts', 'room', 'caller', 'message']);
const CALLER_KEYS = new Set(['name', 'phone']);
// C0 / C1 controls, DEL, bidi overrides and isolates, zero-width and line/paragraph separators: nothing an operator's screen should render
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
// the same, but a message may keep line breaks and tabs
const HIDDEN_IN_MESSAGE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
const PHONE = /^\+?[0-9][0-9 ()-]{2,31}$/;

function text(x: unknown, path: string, max: number, hidden: RegExp, errors: string[]): string | undefined {
  if (x === undefined) return undefined;
  if (typeof x !== 'string') return void errors.push(`${path}: expected a string`);
  const s = x.trim();
  if (s.length === 0) return undefined;
  if ([...s].length > max) return void errors.push(`${path}: longer than ${max} characters`);
  if (hidden.test(s)) return void errors.push(`${path}: control or invisible characters`);
  return s;
}

/** Validates a call payload; never throws. */
export function parseCallPayload(payload: Uint8Array | string): CallValidation {
  const errors: string[] = [];
  const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload).byteLength : payload.byteLength;
  if (bytes === 0) return { call: {}, errors };
  if (bytes > CALL_LIMITS.bytes) return { call: {}, errors: [`payload: larger than ${CALL_LIMITS.bytes} bytes`] };
  let x: unknown;
  try {
    x = JSON.parse(typeof payload === 'string' ? payload : new TextDecoder().decode(payload));
  } catch {
    return { call: {}, errors: ['payload: not JSON'] };
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return { call: {}, errors: ['payload: expected an object'] };
  const o = x as Record<string, unknown>;
  const call: CallMessage = {};
  for (const k of Object.keys(o)) if (!CALL_KEYS.has(k)) errors.push(`${k.slice(0, 64)}: unknown key`);
  if (o.ts !== undefined) {
    if (typeof o.ts === 'number' && Number.isSafeInteger(o.ts) && o.ts > 0) call.ts = o.ts;
    else errors.push('ts: expected epoch milliseconds');
  }
  if (o.room !== undefined) {
    if (typeof o.room === 'string' && isTopicId(o.room)) call.room = o.room;
    else errors.push('room: expected a room id');
  }
  if (o.caller !== undefined) {
    if (typeof o.caller !== 'object' || o.caller === null || Array.isArray(o.caller)) errors.push('caller: expected an object of name, phone');
    else {
      const c = o.caller as Record<string, unknown>;
      for (const k of Object.keys(c)) if (!CALLER_KEYS.has(k)) errors.push(`caller.${k.slice(0, 64)}: unknown key`);
      const name = text(c.name, 'caller.name', CALL_LIMITS.name, HIDDEN, errors);
      let phone = text(c.phone, 'caller.phone', CALL_LIMITS.phone, HIDDEN, errors);
      if (phone !== undefined && !PHONE.test(phone)) phone = void errors.push('caller.phone: expected digits, spaces, + ( ) -');
      if (name !== undefined || phone !== undefined) call.caller = { ...(name !== undefined ? { name } : {}), ...(phone !== undefined ? { phone } : {}) };
    }
  }
  const message = text(o.message, 'message', CALL_LIMITS.message, HIDDEN_IN_MESSAGE, errors);
  if (message !== undefined) call.message = message;
  return { call, errors };
}
