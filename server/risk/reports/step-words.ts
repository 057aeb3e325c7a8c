/**
 * The system's steps of a risk item (contract RiskStep kinds) as the reports
 * say them, Chinese and English, their parameters filled in: codes,
 * indicators and times in the report's language and time zone. A step of a
 * kind not listed shows the server's English text.
 */
import type { RiskCode, RiskItemEvent, RiskStep, RiskStepKind } from '../../../contract/risk.ts';
import { timeIn } from './html-page.ts';
import { EVENT_WORDS, codeWord, indicatorName, msg, type ReportLang } from './messages.ts';

export const STEP_WORDS: Record<ReportLang, Record<RiskStepKind, string>> = {
  zh: {
    opened: '{code} · {day} · {driving}',
    assigned: '{names}（{station} 的责任人：{roles}）',
    assigned_on_duty: '{names}（通讯录中无 {station} 的责任人（{roles}），指派中心值班（{dutyRoles}））',
    unassigned: '未指派：通讯录中无 {station} 的责任人，也无中心值班（{dutyRoles}）',
    code_changed: '{from} → {to}（{day}）',
    escalated: '期限 {due} 前未反馈',
    notified: '{notice}短信已交发送 {n} 条：{ids}',
    notice_refused: '{notice}短信被通知端口拒绝：{reasons}',
    nobody_to_notify: '{notice}短信：无人可通知',
  },
  en: {
    opened: '{code} · {day} · {driving}',
    assigned: '{names} (responsible people of {station}: {roles})',
    assigned_on_duty: "{names} (no responsible person of {station} ({roles}) in the contact directory: the center's on-duty ({dutyRoles}))",
    unassigned: 'unassigned: no responsible person of {station} and no center on-duty ({dutyRoles}) in the contact directory',
    code_changed: '{from} → {to} ({day})',
    escalated: 'not answered by {due}',
    notified: '{notice} SMS handed over, {n}: {ids}',
    notice_refused: '{notice} SMS refused by the notification port: {reasons}',
    nobody_to_notify: '{notice} SMS: nobody to notify',
  },
};

function stepVar(lang: ReportLang, name: string, v: RiskStep['p'][string], tz: string, stationName: (id: string) => string): string {
  if (Array.isArray(v)) return v.length ? v.join(msg(lang, 'list_sep')) : '–';
  const s = String(v);
  if (name === 'code' || name === 'from' || name === 'to') return codeWord(lang, s as RiskCode);
  if (name === 'driving') return indicatorName(lang, s) || '–';
  if (name === 'due') return timeIn(Number(v), tz);
  if (name === 'notice') return EVENT_WORDS[lang][s as RiskItemEvent['kind']] ?? s;
  if (name === 'station') return stationName(s);
  return s;
}

/** What a journal line of an item says: people's words as written; the system's steps in the report's language. */
export function eventText(lang: ReportLang, e: RiskItemEvent, tz: string, stationName: (id: string) => string = (id) => id): string {
  const ev = e.ev;
  const words = ev ? STEP_WORDS[lang][ev.k] : undefined;
  if (!ev || words === undefined) return e.text ?? '';
  const vars: Record<string, string> = { driving: '–', names: '–' };
  for (const [k, v] of Object.entries(ev.p)) vars[k] = stepVar(lang, k, v, tz, stationName);
  return words.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
}
