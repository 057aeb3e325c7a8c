/** Alarm labels in the page's language: severity, state, level, transition reason, times (words in i18n/alarms.ts). */
import { hasKey, locale, t } from '../i18n.ts';
import type { AlarmState } from './store.ts';

/** the message of `prefix_code`, or the code itself when there is none */
const coded = (prefix: string, code: string): string => {
  const key = `${prefix}_${code}`;
  return hasKey(key) ? t(key) : code;
};

export const sevText = (s: number): string => coded('sev', String(s));
export const stateText = (s: AlarmState): string => coded('st', s);

export function timeText(ms: number | null | undefined): string {
  if (!ms) return '—';
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return d.toLocaleString(locale(), { hour12: false, ...(today ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : {}) });
}

export const levelText = (l: string | null): string => (l ? coded('lv', l) : '');
export const reasonText = (r: string): string => coded('rs', r);
