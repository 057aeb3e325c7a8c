/** One-key calls (一键呼叫): a call alarm's details and its card, taken by one operator. */
import { el } from '../dom.ts';
import { t } from '../i18n.ts';
import type { Role } from '../api.ts';
import { alarmApi, applyAnswer, type AlarmView } from './store.ts';
import { timeText } from './text.ts';

let siteName = (id: string): string => id;
let roomName = (_site: string, room: string): string => room;
/** how the call cards and the console name a site and a room (the topology's names) */
export function setSiteNames(site: (id: string) => string, room?: (site: string, room: string) => string): void {
  siteName = site;
  if (room) roomName = room;
}

/**
 * A one-key call's optional details as the server keeps them in the alarm's
 * detail (contract/call.ts: `room`, `caller: { name, phone }`, `message`);
 * older sites send none, and the card then names only the site.
 */
export interface CallMeta {
  room: string;
  /** "name (phone)", or whichever of them was sent */
  caller: string;
  message: string;
}
const str = (x: unknown): string => (typeof x === 'string' ? x.trim() : '');
export function callMeta(a: AlarmView): CallMeta {
  const d = a.detail ?? {};
  const c = d.caller;
  let caller = str(c);
  if (c && typeof c === 'object' && !Array.isArray(c)) {
    const { name, phone } = c as Record<string, unknown>;
    caller = [str(name), str(phone) && (str(name) ? `(${str(phone)})` : str(phone))].filter(Boolean).join(' ');
  }
  return { room: a.room || str(d.room), caller, message: str(d.message) };
}

export function callCard(a: AlarmView, role: Role): HTMLElement {
  const taken = a.acknowledged;
  const m = callMeta(a);
  const where = [siteName(a.site), m.room ? roomName(a.site, m.room) : '', timeText(a.activeSince ?? a.since)].filter(Boolean).join(' · ');
  const card = el('div', { class: `call-card${taken ? ' taken' : ''}`, 'data-alarm': a.alarmId, 'data-state': a.state }, el('b', {}, `☎ ${t('call')}`));
  const info = el('span', { class: 'call-info' }, el('span', { class: 'where' }, where));
  if (m.caller) info.append(el('span', { class: 'caller' }, t('a_caller', { caller: m.caller })));
  if (m.message) info.append(el('span', { class: 'call-msg' }, `“${m.message}”`));
  card.append(info);
  if (taken) card.append(el('span', { class: 'taken-by' }, t('a_c_takenBy', { by: taken.by, at: timeText(taken.at) })));
  else if (role !== 'viewer') {
    const btn = el('button', { type: 'button', class: 'act take', 'data-act': 'take' }, t('a_c_take'));
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        applyAnswer((await alarmApi.acknowledge(a.alarmId, t('a_c_taken'))).alarm);
      } catch (e) {
        btn.disabled = false;
        card.append(el('span', { class: 'error' }, (e as Error).message));
      }
    });
    card.append(btn);
  } else card.append(el('span', { class: 'muted' }, t('a_c_waiting')));
  return card;
}

