/** The alarm count chips of the overview and the room view (with the room's one-key call cards). */
import { el, setText } from '../dom.ts';
import { t } from '../i18n.ts';
import type { Role } from '../api.ts';
import { alarmStore, enc, isCall, type AlarmView } from './store.ts';
import { callCard } from './calls.ts';
import { sevText } from './text.ts';


function paintChip(chip: HTMLElement, c: number[], calls: number): void {
  const b = chip.querySelector('b')!;
  const parts = [1, 2, 3, 4].map((s) => `${sevText(s)} ${c[s]}`);
  const total = c[1]! + c[2]! + c[3]! + c[4]!;
  chip.className = `chip c-alarms${total ? '' : ' zero'}${c[1] || c[2] ? ' hot' : ''}`;
  setText(b, String(total));
  const detail = chip.querySelector('.sev')!;
  setText(detail, parts.join(' · ') + (calls ? ` · ${t('call')} ${calls}` : ''));
  chip.dataset.counts = c.slice(1).join(',');
  chip.dataset.calls = String(calls);
}

/** The alarm count chip of the overview summary: standing alarms by severity. */
export function alarmSummarySlot(): HTMLElement {
  const chip = el('a', { class: 'chip c-alarms', 'data-k': 'alarms', href: '#/alarms' }, el('span', {}, t('sum_alarms')), el('b', {}, '…'), el('span', { class: 'sev' }, ''));
  const paint = () => {
    if (!chip.isConnected && chip.dataset.painted) return off();
    chip.dataset.painted = '1';
    paintChip(chip, alarmStore.counts(), alarmStore.counts(isCall).reduce((x, y) => x + y, 0));
  };
  const off = alarmStore.onChange(paint);
  paint();
  return chip;
}

/** The room view's alarms (by severity) and the site's one-key calls, which can be taken here. */
export function roomAlarmSlot(site: string, room: string, role: Role): HTMLElement {
  const chip = el('a', { class: 'chip c-alarms', 'data-k': 'room-alarms', href: `#/alarms?site=${enc(site)}` }, el('span', {}, t('sum_alarms')), el('b', {}, '…'), el('span', { class: 'sev' }, ''));
  const calls = el('div', { class: 'room-calls' });
  const box = el('div', { class: 'room-alarms' }, chip, calls);
  const paint = () => {
    if (!box.isConnected && box.dataset.painted) return off();
    box.dataset.painted = '1';
    const inRoom = (a: AlarmView) => a.site === site && (a.room === room || isCall(a));
    paintChip(chip, alarmStore.counts(inRoom), 0);
    const standing = alarmStore.list().filter((a) => isCall(a) && a.site === site);
    calls.replaceChildren(...standing.map((a) => callCard(a, role)));
  };
  const off = alarmStore.onChange(paint);
  paint();
  return box;
}

/** An overview room card's badge: the room's standing alarms by severity (and its site's calls); empty when none. */
export function roomAlarmBadge(site: string, room: string): HTMLElement {
  const badge = el('a', { class: 'room-alarm-badge', href: `#/alarms?q=${enc(site)}`, 'data-k': 'room-alarms' });
  const paint = () => {
    if (!badge.isConnected && badge.dataset.painted) return off();
    badge.dataset.painted = '1';
    const c = alarmStore.counts((a) => a.site === site && (a.room === room || isCall(a)));
    const parts = [1, 2, 3, 4].filter((s) => c[s]).map((s) => el('span', { class: `sev sev-${s}` }, `${sevText(s)} ${c[s]}`));
    badge.replaceChildren(...parts);
    badge.hidden = parts.length === 0;
    badge.dataset.counts = c.slice(1).join(',');
  };
  const off = alarmStore.onChange(paint);
  paint();
  return badge;
}

