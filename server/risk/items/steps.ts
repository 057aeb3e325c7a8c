/**
 * The system's steps on a risk item as kinds with parameters (contract
 * RiskStep): made here with the English sentence the journal has always
 * carried (`text`, for the log and older clients), and read back from that
 * sentence for journal lines written before the kinds existed, so that an
 * old line and a new one of the same step give the same kind and
 * parameters. Pure.
 */
import type { RiskCode, RiskItem, RiskItemEvent, RiskStep } from '../../../contract/risk.ts';

export interface MadeStep {
  text: string;
  ev: RiskStep;
}

const list = (s: string, sep: string): string[] => (s === '' ? [] : s.split(sep));
const strs = (v: RiskStep['p'][string] | undefined): string[] => (Array.isArray(v) ? v : []);

/** The English sentence of a step (the journal's `text`). */
export function stepText(ev: RiskStep): string {
  const p = ev.p;
  const s = (k: string) => String(p[k] ?? '');
  switch (ev.k) {
    case 'opened':
      return `${s('code')} (${s('day')}${p.driving ? `, ${s('driving')}` : ''})`;
    case 'assigned':
      return `responsible people of ${s('station')} (${strs(p.roles).join(', ')})`;
    case 'assigned_on_duty':
      return `no responsible person of ${s('station')} (${strs(p.roles).join(', ')}) in the contact directory: assigned to the center's on-duty (${strs(p.dutyRoles).join(', ')})`;
    case 'unassigned':
      return `no responsible person of ${s('station')} and no center on-duty (${strs(p.dutyRoles).join(', ')}) in the contact directory: unassigned`;
    case 'code_changed':
      return `${s('from')} → ${s('to')} (${s('day')})`;
    case 'escalated':
      return `due ${new Date(Number(p.due)).toISOString()}, not answered`;
    case 'notified':
      return `${s('notice')}: ${strs(p.ids).join(', ')}`;
    case 'notice_refused':
      return `${s('notice')}: refused by the notification port (${strs(p.reasons).join('; ')})`;
    case 'nobody_to_notify':
      return `${s('notice')}: nobody to notify`;
  }
}

export function made(k: RiskStep['k'], p: RiskStep['p']): MadeStep {
  const ev = { k, p };
  return { ev, text: stepText(ev) };
}

export const openedStep = (code: RiskCode, day: string, driving: string | null): MadeStep => made('opened', { code, day, ...(driving ? { driving } : {}) });
export const codeChangedStep = (from: RiskCode, to: RiskCode, day: string): MadeStep => made('code_changed', { from, to, day });
export const escalatedStep = (due: number): MadeStep => made('escalated', { due });

/** The notice handed over for an item (`notice`: the step it is for), by what the notification port answered. */
export function notifiedStep(notice: 'opened' | 'escalated', ids: string[], refused: string[]): MadeStep {
  if (ids.length) return made('notified', { notice, n: ids.length, ids });
  if (refused.length) return made('notice_refused', { notice, reasons: refused });
  return made('nobody_to_notify', { notice });
}

const CODE = '(red|yellow|green)';
const DAY = '(\\d{4}-\\d{2}-\\d{2})';
const OPENED = new RegExp(`^${CODE} \\(${DAY}(?:, (.+))?\\)$`, 's');
const CHANGED = new RegExp(`^${CODE} → ${CODE} \\(${DAY}\\)$`);
const OWN = /^responsible people of (.+) \(([^()]*)\)$/s;
const ON_DUTY = /^no responsible person of (.+) \(([^()]*)\) in the contact directory: assigned to the center's on-duty \(([^()]*)\)$/s;
const NOBODY = /^no responsible person of (.+) and no center on-duty \(([^()]*)\) in the contact directory: unassigned$/s;
const ESCALATED = /^due (\S+), not answered$/;
const NOTICE = /^(opened|escalated): (.*)$/s;
const REFUSED = /^refused by the notification port \((.*)\)$/s;

/**
 * The step of an event journaled before the kinds existed, read from its
 * English sentence; `names`: the assignees of an assignment. Undefined for
 * people's steps and for a sentence not of this system (the reader shows the text).
 */
export function stepOfText(kind: RiskItemEvent['kind'], text: string | undefined, names: string[] = []): RiskStep | undefined {
  if (text === undefined) return undefined;
  let m: RegExpExecArray | null;
  switch (kind) {
    case 'opened':
      if ((m = OPENED.exec(text))) return { k: 'opened', p: { code: m[1]!, day: m[2]!, ...(m[3] ? { driving: m[3] } : {}) } };
      return undefined;
    case 'code-changed':
      if ((m = CHANGED.exec(text))) return { k: 'code_changed', p: { from: m[1]!, to: m[2]!, day: m[3]! } };
      return undefined;
    case 'assigned':
      if ((m = ON_DUTY.exec(text))) return { k: 'assigned_on_duty', p: { station: m[1]!, roles: list(m[2]!, ', '), dutyRoles: list(m[3]!, ', '), names } };
      if ((m = NOBODY.exec(text))) return { k: 'unassigned', p: { station: m[1]!, dutyRoles: list(m[2]!, ', ') } };
      if ((m = OWN.exec(text))) return { k: 'assigned', p: { station: m[1]!, roles: list(m[2]!, ', '), names } };
      return undefined;
    case 'escalated': {
      const due = (m = ESCALATED.exec(text)) ? Date.parse(m[1]!) : NaN;
      return Number.isFinite(due) ? { k: 'escalated', p: { due } } : undefined;
    }
    case 'notified': {
      if (!(m = NOTICE.exec(text))) return undefined;
      const notice = m[1]!;
      const rest = m[2]!;
      if (rest === 'nobody to notify') return { k: 'nobody_to_notify', p: { notice } };
      const r = REFUSED.exec(rest);
      if (r) return { k: 'notice_refused', p: { notice, reasons: list(r[1]!, '; ') } };
      const ids = list(rest, ', ');
      return { k: 'notified', p: { notice, n: ids.length, ids } };
    }
    default:
      return undefined;
  }
}

/** An item as kept before the kinds existed (a compacted journal record): its system events given their kinds from their text. */
export function withSteps(item: RiskItem): RiskItem {
  if (item.events.every((e) => e.ev !== undefined || stepOfText(e.kind, e.text) === undefined)) return item;
  const names = item.assignees.map((a) => a.name);
  return {
    ...item,
    events: item.events.map((e) => {
      if (e.ev !== undefined) return e;
      const ev = stepOfText(e.kind, e.text, names);
      return ev ? { ...e, ev } : e;
    }),
  };
}
