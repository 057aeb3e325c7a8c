/**
 * Risk items' lifecycle (docs/risk.md, Closed loop). Pure, no clock: every
 * change is a step value `{ kind, id, at, by, … }` computed from the input
 * and the time passed in, journaled, and applied by one reducer
 * (`applyStep`) both live and when the items are rebuilt at start.
 *
 *   open → answered (follow-up) → closed (verified)
 *                    ↘ rejected → open (a new due time)
 *   open past due → escalated (once per due time; the item stays open)
 *
 * Items open on a station's code *turning* yellow or red (from green, from
 * no code, or yellow → red): a station whose item the center closed while it
 * stays yellow gets no new one every day; it gets one when it turns red, or
 * turns yellow again after green.
 */
import type { RiskCode, RiskItem, RiskItemEvent, RiskStep, StationRiskDay } from '../../../contract/risk.ts';
import { codeChangedStep, escalatedStep, openedStep, stepOfText } from './steps.ts';

export interface ItemOptions {
  /** answer due after the item opens (or is rejected), hours, per code */
  answerWithinHours: { yellow: number; red: number };
}

export interface Assignment {
  assignees: { id: string; name: string }[];
  /** how they were found, e.g. "no responsible person in the contact directory: the center's on-duty" */
  text: string;
  /** the same as a step kind with parameters */
  ev?: RiskStep;
}

interface StepBase {
  /** item id */
  id: string;
  /** epoch ms */
  at: number;
  /** user name, or "system" */
  by: string;
  /** people's words; the system's steps in English (steps.ts) */
  text?: string;
  /** a system step as a kind with parameters (steps.ts); a line journaled without it is read from `text` */
  ev?: RiskStep;
}

export type ItemStep =
  | (StepBase & { kind: 'opened'; station: string; code: RiskCode; day: string; driving: string | null; dueAt: number })
  | (StepBase & { kind: 'assigned'; assignees: { id: string; name: string }[] })
  | (StepBase & { kind: 'code-changed'; code: RiskCode; day: string; driving: string | null; dueAt: number })
  | (StepBase & { kind: 'follow-up'; text: string })
  | (StepBase & { kind: 'verified' })
  | (StepBase & { kind: 'rejected'; dueAt: number })
  | (StepBase & { kind: 'escalated' })
  | (StepBase & { kind: 'notified'; messages: string[] });

/** The last code seen per station (with its day): what "turns" compares against. */
export type StationCodes = Record<string, { code: RiskCode | null; day: string }>;

const RANK: Record<RiskCode, number> = { green: 0, yellow: 1, red: 2 };

export function dueAfter(o: ItemOptions, code: RiskCode, at: number): number {
  const h = code === 'red' ? o.answerWithinHours.red : o.answerWithinHours.yellow;
  return at + Math.round(h * 3_600_000);
}

function event(s: ItemStep, kind: RiskItemEvent['kind'], text?: string): RiskItemEvent {
  const ev = kind === 'closed' ? undefined : (s.ev ?? stepOfText(kind, text, s.kind === 'assigned' ? s.assignees.map((a) => a.name) : []));
  return { at: s.at, by: s.by, kind, ...(text !== undefined ? { text } : {}), ...(ev !== undefined ? { ev } : {}) };
}

/** The reducer: the item after `step` (a new item for `opened`). Steps that do not fit the state are journaled only when valid, so none is refused here. */
export function applyStep(item: RiskItem | undefined, s: ItemStep): RiskItem {
  if (s.kind === 'opened') {
    return {
      id: s.id, station: s.station, openedCode: s.code, code: s.code, day: s.day, driving: s.driving, state: 'open',
      openedAt: s.at, dueAt: s.dueAt, escalated: false, assignees: [], closedAt: null, events: [event(s, 'opened', s.text)],
    };
  }
  if (!item) throw new Error(`risk item ${s.id}: ${s.kind} before opened`);
  const events = [...item.events];
  switch (s.kind) {
    case 'assigned':
      return { ...item, assignees: s.assignees, events: [...events, event(s, 'assigned', s.text)] };
    case 'code-changed':
      return { ...item, code: s.code, driving: s.driving ?? item.driving, dueAt: s.dueAt, events: [...events, event(s, 'code-changed', s.text)] };
    case 'follow-up':
      return { ...item, state: item.state === 'closed' ? 'closed' : 'answered', events: [...events, event(s, 'follow-up', s.text)] };
    case 'verified':
      return { ...item, state: 'closed', closedAt: s.at, events: [...events, event(s, 'verified', s.text), event(s, 'closed')] };
    case 'rejected':
      return { ...item, state: 'open', dueAt: s.dueAt, escalated: false, events: [...events, event(s, 'rejected', s.text)] };
    case 'escalated':
      return { ...item, escalated: true, events: [...events, event(s, 'escalated', s.text)] };
    case 'notified':
      return { ...item, events: [...events, event(s, 'notified', s.text ?? s.messages.join(','))] };
    default: {
      const never: never = s;
      throw new Error(`unknown risk item step ${JSON.stringify(never)}`);
    }
  }
}

export interface DayOutcome {
  steps: ItemStep[];
  /** the stations' last codes after these days */
  codes: StationCodes;
  /** ids of the items opened (their opening notices are due) */
  opened: string[];
}

/**
 * What a computation's days do to the items. Days are taken per station in
 * day order; a day older than the station's last one seen is a recomputation
 * of the past and changes nothing; provisional days (today's running figure)
 * neither. A day without a code (no score) keeps the last code.
 */
export function stepsForDays(
  days: readonly StationRiskDay[],
  items: ReadonlyMap<string, RiskItem>,
  codes: StationCodes,
  ctx: { options: ItemOptions; newId: (d: StationRiskDay) => string; assign: (station: string) => Assignment },
): DayOutcome {
  const next: StationCodes = { ...codes };
  const openOf = new Map<string, RiskItem>();
  for (const it of items.values()) if (it.state !== 'closed') openOf.set(it.station, it);
  const steps: ItemStep[] = [];
  const opened: string[] = [];
  const sorted = [...days].filter((d) => d.run !== 'provisional').sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.computedAt - b.computedAt));
  for (const d of sorted) {
    const last = next[d.station];
    if (last && d.day < last.day) continue;
    if (d.code === null) continue;
    const before = last?.code ?? null;
    next[d.station] = { code: d.code, day: d.day };
    const at = d.computedAt;
    const open = openOf.get(d.station);
    if (open) {
      if (d.code === open.code) continue;
      const redder = open.code === null || RANK[d.code] > RANK[open.code];
      // a redder code shortens the answer time of an item not yet answered; it never lengthens it
      const dueAt = redder && open.state === 'open' ? Math.min(open.dueAt, dueAfter(ctx.options, d.code, at)) : open.dueAt;
      const s: ItemStep = { kind: 'code-changed', id: open.id, at, by: 'system', code: d.code, day: d.day, driving: d.driving, dueAt, ...codeChangedStep(open.code ?? 'green', d.code, d.day) };
      steps.push(s);
      openOf.set(d.station, applyStep(open, s));
      continue;
    }
    const turned = d.code !== 'green' && (before === null || RANK[d.code] > RANK[before]);
    if (!turned) continue;
    const id = ctx.newId(d);
    const o: ItemStep = { kind: 'opened', id, at, by: 'system', station: d.station, code: d.code, day: d.day, driving: d.driving, dueAt: dueAfter(ctx.options, d.code, at), ...openedStep(d.code, d.day, d.driving) };
    const a = ctx.assign(d.station);
    const as: ItemStep = { kind: 'assigned', id, at, by: 'system', assignees: a.assignees, text: a.text, ...(a.ev ? { ev: a.ev } : {}) };
    steps.push(o, as);
    opened.push(id);
    openOf.set(d.station, applyStep(applyStep(undefined, o), as));
  }
  return { steps, codes: next, opened };
}

/** Items open past their due time and not yet escalated for it: the escalation steps due at `now`. */
export function overdueSteps(items: Iterable<RiskItem>, now: number): ItemStep[] {
  const out: ItemStep[] = [];
  for (const it of items) {
    if (it.state !== 'open' || it.escalated || now < it.dueAt) continue;
    out.push({ kind: 'escalated', id: it.id, at: now, by: 'system', ...escalatedStep(it.dueAt) });
  }
  return out;
}

export type ActionResult = { ok: true; step: ItemStep } | { ok: false; reason: string };

/** A follow-up by the station (or an operator on its behalf): refused on a closed item. */
export function followUpStep(item: RiskItem, by: string, text: string, at: number): ActionResult {
  if (item.state === 'closed') return { ok: false, reason: `item ${item.id} is closed: a follow-up is no longer taken` };
  return { ok: true, step: { kind: 'follow-up', id: item.id, at, by, text } };
}

/** The center's verification: accepted → closed; rejected → open again with a new due time. Only an answered item is verified. */
export function verifyStep(item: RiskItem, by: string, accept: boolean, comment: string, at: number, o: ItemOptions): ActionResult {
  if (item.state !== 'answered') return { ok: false, reason: item.state === 'closed' ? `item ${item.id} is closed already` : `item ${item.id} has no follow-up to verify yet` };
  const text = comment || undefined;
  if (accept) return { ok: true, step: { kind: 'verified', id: item.id, at, by, ...(text ? { text } : {}) } };
  return { ok: true, step: { kind: 'rejected', id: item.id, at, by, dueAt: dueAfter(o, item.code === 'red' || item.openedCode === 'red' ? 'red' : 'yellow', at), ...(text ? { text } : {}) } };
}
