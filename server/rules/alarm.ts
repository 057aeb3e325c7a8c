/**
 * The alarm state machine of ANSI/ISA-18.2 / IEC 62682 (the alarm state
 * transition diagram), pure (docs/conventions.md, state machines).
 *
 * Displayed states:
 *   normal        condition inactive, nothing to acknowledge
 *   unack_active  condition active, not acknowledged (annunciating)
 *   ack_active    condition active, acknowledged
 *   unack_rtn     condition returned to normal before being acknowledged
 *   shelved       hidden by an operator: who, why, until when (always time-limited)
 *   suppressed    hidden by design: the system knows a better alarm covers it
 *                 (a meter's alarms while its transformer has an outage)
 *   out_of_service removed for maintenance by an operator
 *
 * The three hiding states are flags that can overlap; the displayed state is
 * the strongest: out_of_service > suppressed > shelved. While hidden, the
 * process condition (`active`) is still tracked, silently. When the last
 * flag goes, the alarm returns as ISA-18.2 prescribes for unshelving:
 * `unack_active` (annunciated again) if its condition is active, else `normal`.
 *
 * Every change is a transition value; `applyTransition` is the one reducer,
 * used both live and by `rebuild`, so the alarm set rebuilt from the journal
 * is the live set by construction (and tested as such).
 *
 * Alarm identity is deterministic: `alarmId = ruleId + ':' + source` (source:
 * device id, `site/transformer`, or site id). Raising an alarm that is
 * already active at the same level and severity is a no-op, so a redelivered
 * reading can never raise it twice.
 *
 * One file: the states, the transitions and the reducer are one state machine,
 * read and tested as a whole (test/rules/alarm.test.ts checks it against a
 * reference model).
 */
import type { AlarmOpError } from './errors.ts';
import { RULE_ID_PATTERN, type Severity } from './schema.ts';
import { ALARM_STATES, TRANSITION_REASONS, type Alarm, type AlarmState, type AlarmTransition, type JsonObject, type JsonValue, type TransitionReason } from '../../contract/index.ts';

// the states, reasons, transition and alarm values are what the browser reads too: declared in contract/frames.ts
export { ALARM_STATES, TRANSITION_REASONS, type Alarm, type AlarmState, type AlarmTransition, type JsonObject, type JsonValue, type TransitionReason };

/** Operations. Every one names its alarm; `raise`, `suppress` and `remove_from_service` may create it. */
export type AlarmOp =
  | {
      op: 'raise';
      alarmId: string;
      severity: Severity;
      level?: string;
      message?: string;
      detail?: JsonObject;
      /** the source is suppressed by design (reason): the alarm is suppressed first, so it never annunciates */
      suppress?: string;
    }
  | { op: 'clear'; alarmId: string }
  | { op: 'acknowledge'; alarmId: string; by: string; comment?: string }
  | { op: 'shelve'; alarmId: string; by: string; reason: string; until: number }
  | { op: 'unshelve'; alarmId: string; by: string; comment?: string }
  /** the system's check at `at`: a shelve whose `until` has come is lifted */
  | { op: 'expire_shelf'; alarmId: string }
  | { op: 'suppress'; alarmId: string; reason: string; severity?: Severity }
  | { op: 'unsuppress'; alarmId: string }
  | { op: 'remove_from_service'; alarmId: string; by: string; reason: string; severity?: Severity }
  | { op: 'return_to_service'; alarmId: string; by: string; comment?: string }
  | { op: 'comment'; alarmId: string; by: string; comment: string };

export type AlarmOpName = AlarmOp['op'];

export type AlarmResult =
  | {
      ok: true;
      /** the alarm after the operation; undefined when it did not exist and still does not */
      alarm: Alarm | undefined;
      /** zero (nothing changed: an idempotent repeat), one, or two (a raise into suppression) */
      transitions: AlarmTransition[];
    }
  | { ok: false; error: AlarmOpError };

// ---------------------------------------------------------------- identity

export function alarmId(ruleId: string, source: string): string {
  return `${ruleId}:${source}`;
}

/** Splits at the first ':' (rule ids cannot contain one; sources may). */
export function parseAlarmId(id: string): { ruleId: string; source: string } | null {
  const i = id.indexOf(':');
  if (i <= 0) return null;
  const ruleId = id.slice(0, i);
  const source = id.slice(i + 1);
  if (!RULE_ID_PATTERN.test(ruleId) || source.length === 0) return null;
  return { ruleId, source };
}

// ---------------------------------------------------------------- the reducer

function fresh(t: Pick<AlarmTransition, 'alarmId' | 'ruleId' | 'source' | 'severity' | 'at'>): Alarm {
  return {
    alarmId: t.alarmId,
    ruleId: t.ruleId,
    source: t.source,
    state: 'normal',
    active: false,
    activeSince: null,
    severity: t.severity,
    level: null,
    message: null,
    detail: null,
    since: t.at,
    updatedAt: t.at,
    shelf: null,
    suppression: null,
    outOfService: null,
  };
}

/** Applies one transition to an alarm (undefined = the alarm did not exist yet). */
export function applyTransition(a: Alarm | undefined, t: AlarmTransition): Alarm {
  const base = a ?? fresh(t);
  const next: Alarm = { ...base, state: t.to, active: t.active, severity: t.severity, updatedAt: t.at };
  if (t.to !== base.state) next.since = t.at;
  if (!t.active) next.activeSince = null;
  else if (!base.active) next.activeSince = t.at;
  switch (t.reason) {
    case 'raise':
    case 'level':
      next.level = t.level ?? null;
      next.message = t.message ?? null;
      next.detail = t.detail ?? null;
      break;
    case 'shelve':
      next.shelf = { by: t.by ?? '', reason: t.comment ?? '', at: t.at, until: t.until ?? t.at };
      break;
    case 'unshelve':
    case 'shelve_expired':
      next.shelf = null;
      break;
    case 'suppress':
      next.suppression = { reason: t.comment ?? '', at: t.at };
      break;
    case 'unsuppress':
      next.suppression = null;
      break;
    case 'remove_from_service':
      next.outOfService = { by: t.by ?? '', reason: t.comment ?? '', at: t.at };
      break;
    case 'return_to_service':
      next.outOfService = null;
      break;
    case 'clear':
    case 'acknowledge':
    case 'comment':
      break;
    default: {
      const never: never = t.reason;
      throw new Error(`unknown transition reason ${String(never)}`);
    }
  }
  return next;
}

/**
 * The alarm set rebuilt from the journal (the server does this at start).
 * Transitions are applied in `seq` order when every one has a seq, else in
 * the order given.
 */
export function rebuild(events: Iterable<AlarmTransition>): Map<string, Alarm> {
  let list = [...events];
  if (list.every((e) => e.seq !== undefined)) list = list.slice().sort((x, y) => x.seq! - y.seq!);
  const out = new Map<string, Alarm>();
  for (const t of list) out.set(t.alarmId, applyTransition(out.get(t.alarmId), t));
  return out;
}

// ---------------------------------------------------------------- decisions

function reject(code: AlarmOpError['code'], message: string): AlarmResult {
  return { ok: false, error: { code, message } };
}

function noChange(a: Alarm | undefined): AlarmResult {
  return { ok: true, alarm: a, transitions: [] };
}

type Change = Pick<AlarmTransition, 'to' | 'reason'> & Partial<Omit<AlarmTransition, 'alarmId' | 'ruleId' | 'source' | 'from' | 'at'>>;

function commit(a: Alarm, change: Change, at: number): AlarmResult {
  const t: AlarmTransition = {
    alarmId: a.alarmId,
    ruleId: a.ruleId,
    source: a.source,
    from: a.state,
    at,
    severity: a.severity,
    active: a.active,
    ...change,
  };
  for (const k of Object.keys(t) as (keyof AlarmTransition)[]) if (t[k] === undefined) delete t[k];
  return { ok: true, alarm: applyTransition(a, t), transitions: [t] };
}

/** The displayed state given the hiding flags, or null when none is set. */
function hiddenState(oos: boolean, suppressed: boolean, shelved: boolean): AlarmState | null {
  if (oos) return 'out_of_service';
  if (suppressed) return 'suppressed';
  if (shelved) return 'shelved';
  return null;
}

/** Where the alarm goes when a hiding flag is lifted: the next flag, or back to the process state. */
function afterLift(a: Alarm, lift: 'shelf' | 'suppression' | 'outOfService'): AlarmState {
  const h = hiddenState(
    lift !== 'outOfService' && a.outOfService !== null,
    lift !== 'suppression' && a.suppression !== null,
    lift !== 'shelf' && a.shelf !== null,
  );
  return h ?? (a.active ? 'unack_active' : 'normal');
}

function sameLevel(a: Alarm, op: Extract<AlarmOp, { op: 'raise' }>): boolean {
  return a.active && a.severity === op.severity && a.level === (op.level ?? null);
}

function decideRaise(a: Alarm, op: Extract<AlarmOp, { op: 'raise' }>, at: number): AlarmResult {
  const info: Change = { to: a.state, reason: 'raise', active: true, severity: op.severity, level: op.level, message: op.message, detail: op.detail };
  switch (a.state) {
    case 'normal':
    case 'unack_rtn':
      return commit(a, { ...info, to: 'unack_active' }, at);
    case 'unack_active':
      return sameLevel(a, op) ? noChange(a) : commit(a, { ...info, reason: 'level' }, at);
    case 'ack_active':
      if (sameLevel(a, op)) return noChange(a);
      // a more severe level must be acknowledged again; a milder one just updates
      return op.severity < a.severity ? commit(a, { ...info, to: 'unack_active' }, at) : commit(a, { ...info, reason: 'level' }, at);
    case 'shelved':
    case 'suppressed':
    case 'out_of_service':
      if (sameLevel(a, op)) return noChange(a);
      return commit(a, { ...info, reason: a.active ? 'level' : 'raise' }, at);
    default:
      return unreachable(a.state);
  }
}

function decideClear(a: Alarm, at: number): AlarmResult {
  switch (a.state) {
    case 'unack_active':
      return commit(a, { to: 'unack_rtn', reason: 'clear', active: false }, at);
    case 'ack_active':
      return commit(a, { to: 'normal', reason: 'clear', active: false }, at);
    case 'normal':
    case 'unack_rtn':
      return noChange(a);
    case 'shelved':
    case 'suppressed':
    case 'out_of_service':
      return a.active ? commit(a, { to: a.state, reason: 'clear', active: false }, at) : noChange(a);
    default:
      return unreachable(a.state);
  }
}

function decideAck(a: Alarm, op: Extract<AlarmOp, { op: 'acknowledge' }>, at: number): AlarmResult {
  switch (a.state) {
    case 'unack_active':
      return commit(a, { to: 'ack_active', reason: 'acknowledge', by: op.by, comment: op.comment }, at);
    case 'unack_rtn':
      return commit(a, { to: 'normal', reason: 'acknowledge', by: op.by, comment: op.comment }, at);
    case 'normal':
    case 'ack_active':
    case 'shelved':
    case 'suppressed':
    case 'out_of_service':
      return reject('GW_ERR_ALARM_INVALID_TRANSITION', `alarm ${a.alarmId} is ${a.state}: nothing to acknowledge`);
    default:
      return unreachable(a.state);
  }
}

function decideShelve(a: Alarm, op: Extract<AlarmOp, { op: 'shelve' }>, at: number): AlarmResult {
  switch (a.state) {
    case 'normal':
    case 'unack_active':
    case 'ack_active':
    case 'unack_rtn':
      return commit(a, { to: 'shelved', reason: 'shelve', by: op.by, comment: op.reason, until: op.until }, at);
    case 'shelved':
    case 'suppressed':
    case 'out_of_service':
      return reject('GW_ERR_ALARM_INVALID_TRANSITION', `alarm ${a.alarmId} is ${a.state}: only a visible alarm can be shelved`);
    default:
      return unreachable(a.state);
  }
}

function unreachable(x: never): never {
  throw new Error(`unreachable alarm state ${String(x)}`);
}

const blank = (s: string | undefined) => s === undefined || s.trim().length === 0;

function argError(op: AlarmOp, at: number): string | null {
  if (!Number.isFinite(at)) return 'at must be a finite epoch ms';
  switch (op.op) {
    case 'acknowledge':
    case 'unshelve':
    case 'return_to_service':
      return blank(op.by) ? 'by is required' : null;
    case 'shelve':
      if (blank(op.by)) return 'by is required';
      if (blank(op.reason)) return 'a shelve needs a reason';
      return Number.isFinite(op.until) && op.until > at ? null : 'a shelve needs an expiry (until) in the future';
    case 'remove_from_service':
      if (blank(op.by)) return 'by is required';
      return blank(op.reason) ? 'removal from service needs a reason' : null;
    case 'suppress':
      return blank(op.reason) ? 'suppression needs a reason' : null;
    case 'comment':
      if (blank(op.by)) return 'by is required';
      return blank(op.comment) ? 'comment is empty' : null;
    case 'raise':
    case 'clear':
    case 'expire_shelf':
    case 'unsuppress':
      return null;
    default: {
      const never: never = op;
      return `unknown operation ${JSON.stringify(never)}`;
    }
  }
}

/**
 * Applies one operation at time `at` to the alarm it names (`current` is that
 * alarm, or undefined when it does not exist yet). Pure; never throws.
 * System operations (raise, clear, suppress, unsuppress, expire_shelf) are
 * idempotent: repeating one changes nothing. Operator operations that make
 * no sense in the current state are rejected with a code.
 */
export function applyOp(current: Alarm | undefined, op: AlarmOp, at: number): AlarmResult {
  const id = parseAlarmId(op.alarmId);
  if (id === null) return reject('GW_ERR_ALARM_BAD_ARGUMENT', `"${op.alarmId}" is not an alarm id (ruleId:source)`);
  if (current !== undefined && current.alarmId !== op.alarmId)
    return reject('GW_ERR_ALARM_BAD_ARGUMENT', `operation on ${op.alarmId} given alarm ${current.alarmId}`);
  const bad = argError(op, at);
  if (bad !== null) return reject('GW_ERR_ALARM_BAD_ARGUMENT', `${op.op} ${op.alarmId}: ${bad}`);

  const create = (severity: Severity): Alarm => fresh({ alarmId: op.alarmId, ruleId: id.ruleId, source: id.source, severity, at });

  switch (op.op) {
    case 'raise': {
      if (op.suppress !== undefined && !blank(op.suppress) && current?.suppression == null) {
        const s = applyOp(current, { op: 'suppress', alarmId: op.alarmId, reason: op.suppress, severity: op.severity }, at);
        if (!s.ok) return s;
        const r = applyOp(s.alarm, { ...op, suppress: undefined }, at);
        return r.ok ? { ...r, transitions: [...s.transitions, ...r.transitions] } : r;
      }
      return decideRaise(current ?? create(op.severity), op, at);
    }
    case 'clear':
      return current === undefined ? noChange(current) : decideClear(current, at);
    case 'expire_shelf':
      if (current === undefined || current.shelf === null || current.shelf.until > at) return noChange(current);
      return commit(current, { to: afterLift(current, 'shelf'), reason: 'shelve_expired' }, at);
    case 'unsuppress':
      if (current === undefined || current.suppression === null) return noChange(current);
      return commit(current, { to: afterLift(current, 'suppression'), reason: 'unsuppress' }, at);
    case 'suppress': {
      if (current?.suppression != null) return noChange(current);
      const a = current ?? create(op.severity ?? 4);
      return commit(a, { to: hiddenState(a.outOfService !== null, true, a.shelf !== null)!, reason: 'suppress', comment: op.reason }, at);
    }
    case 'remove_from_service': {
      if (current?.outOfService != null) return reject('GW_ERR_ALARM_INVALID_TRANSITION', `alarm ${op.alarmId} is already out of service`);
      const a = current ?? create(op.severity ?? 4);
      return commit(a, { to: 'out_of_service', reason: 'remove_from_service', by: op.by, comment: op.reason }, at);
    }
    case 'acknowledge':
    case 'shelve':
    case 'unshelve':
    case 'return_to_service':
    case 'comment': {
      if (current === undefined) return reject('GW_ERR_ALARM_UNKNOWN', `no alarm ${op.alarmId}`);
      switch (op.op) {
        case 'acknowledge':
          return decideAck(current, op, at);
        case 'shelve':
          return decideShelve(current, op, at);
        case 'unshelve':
          if (current.state !== 'shelved') return reject('GW_ERR_ALARM_INVALID_TRANSITION', `alarm ${op.alarmId} is ${current.state}, not shelved`);
          return commit(current, { to: afterLift(current, 'shelf'), reason: 'unshelve', by: op.by, comment: op.comment }, at);
        case 'return_to_service':
          if (current.outOfService === null) return reject('GW_ERR_ALARM_INVALID_TRANSITION', `alarm ${op.alarmId} is not out of service`);
          return commit(current, { to: afterLift(current, 'outOfService'), reason: 'return_to_service', by: op.by, comment: op.comment }, at);
        case 'comment':
          return commit(current, { to: current.state, reason: 'comment', by: op.by, comment: op.comment }, at);
      }
      break;
    }
    default: {
      const never: never = op;
      return reject('GW_ERR_ALARM_BAD_ARGUMENT', `unknown operation ${JSON.stringify(never)}`);
    }
  }
  return reject('GW_ERR_ALARM_BAD_ARGUMENT', 'unreachable');
}

// ---------------------------------------------------------------- queries

/** Whether a transition starts an annunciation (horn, push notification, escalation clock). */
export function annunciates(t: AlarmTransition): boolean {
  return t.to === 'unack_active' && t.from !== 'unack_active';
}

/** Whether an operator must still act on the alarm (it is visible and unacknowledged). */
export function needsAck(a: Alarm): boolean {
  return a.state === 'unack_active' || a.state === 'unack_rtn';
}

/** Alarms whose shelve has expired at `now`: apply `{ op: 'expire_shelf' }` to each. */
export function dueShelfExpiries(alarms: Iterable<Alarm>, now: number): string[] {
  const out: string[] = [];
  for (const a of alarms) if (a.shelf !== null && a.shelf.until <= now) out.push(a.alarmId);
  return out;
}

/**
 * Escalation: an alarm annunciating longer than its severity allows.
 * `maxUnackMs` by severity; a severity without an entry never escalates. The
 * caller sends the webhook and journals that it did, once per annunciation
 * (`alarm.since` identifies it).
 */
export function escalationDue(a: Alarm, now: number, maxUnackMs: Partial<Record<Severity, number>>): boolean {
  const limit = maxUnackMs[a.severity];
  return a.state === 'unack_active' && limit !== undefined && now - a.since >= limit;
}
