/** The side panel of one alarm: its state and place, and every journal entry (who, when, why), newest first. */
import { el } from '../dom.ts';
import { t } from '../i18n.ts';
import { isCall, type AlarmEvent, type AlarmView } from './store.ts';
import { reasonText, sevText, stateText, timeText } from './text.ts';

const title = () => el('h3', {}, t('a_p_title'));

export function historyLoading(): Node[] {
  return [title(), el('p', { class: 'muted' }, '…')];
}

export function historyFailed(message: string): Node[] {
  return [title(), el('p', { class: 'error' }, message)];
}

export function historyPanel(o: { id: string; alarm: AlarmView | null; events: readonly AlarmEvent[]; sourceName(a: AlarmView): string; onClose(): void }): Array<Node | string> {
  const { id, alarm: a } = o;
  const close = el('button', { type: 'button', class: 'act', 'data-act': 'close' }, '×');
  close.addEventListener('click', o.onClose);
  const head = a
    ? el(
        'p',
        { class: 'side-alarm' },
        el('span', { class: `sev sev-${a.severity}` }, sevText(a.severity)),
        ' ',
        el('b', { class: 'state' }, stateText(a.state)),
        ` · ${o.sourceName(a)} · ${isCall(a) ? t('call') : (a.ruleName ?? a.ruleId)}`,
      )
    : '';
  const rows = o.events
    .slice()
    .reverse()
    .map((e) =>
      el(
        'li',
        { 'data-reason': e.reason ?? e.kind ?? '' },
        el('time', {}, timeText(e.at)),
        ' ',
        el('b', {}, e.to ? stateText(e.to) : (e.kind ?? '')),
        e.reason ? el('span', { class: 'muted' }, ` (${reasonText(e.reason)})`) : '',
        e.by ? ` · ${e.by}` : '',
        e.comment ? ` · “${e.comment}”` : '',
        e.until ? ` · ${t('a_p_until', { until: timeText(e.until) })}` : '',
      ),
    );
  return [
    el('div', { class: 'side-head' }, title(), close),
    head,
    el('p', { class: 'mono' }, id),
    rows.length ? el('ol', { class: 'hist' }, ...rows) : el('p', { class: 'muted' }, t('a_p_empty')),
  ];
}
