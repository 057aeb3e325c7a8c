/**
 * Alarm console and one-key call (一键呼叫): kept apart from the live views
 * because the alarms API (issue 5) is not served yet — server/app.ts has no
 * /api/alarms route. Until it has, the page shows where alarms will appear
 * and says plainly that the service is not connected; it never shows a zero
 * that could be read as "no alarms".
 *
 * What this module needs from the server (see the dashboard note on issue 6):
 *   GET  /api/alarms?state=active&site=&room=   → { seq, alarms: Alarm[] }
 *   GET  /api/alarms/:id/history                 → { events: AlarmEvent[] }
 *   POST /api/alarms/:id/ack      { comment }    (operator, admin)
 *   POST /api/alarms/:id/shelve   { reason, until }
 *   POST /api/alarms/:id/unshelve, /comment { text }
 *   WebSocket: { type: 'alarm', seq, alarm, transition } frames, never
 *   conflated, and the active set in (or right after) the snapshot.
 */
import { el } from './dom.ts';
import { t } from './i18n.ts';

/** The alarm count chip of the overview summary. */
export function alarmSummarySlot(): HTMLElement {
  return el(
    'span',
    { class: 'chip c-na', 'data-k': 'alarms', title: t('alarmsUnavailableTip') },
    el('span', {}, t('sum_alarms')),
    el('b', {}, t('alarmsUnavailable')),
  );
}

/** The room view's slot for alarms and one-key calls of that room. */
export function roomAlarmSlot(): HTMLElement {
  return el('span', { class: 'chip c-na', 'data-k': 'room-alarms', title: t('alarmsUnavailableTip') }, el('span', {}, `${t('sum_alarms')} / ${t('call')}`), el('b', {}, t('alarmsUnavailable')));
}
