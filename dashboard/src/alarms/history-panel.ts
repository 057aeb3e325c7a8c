/** The side panel of one alarm: its state and place, and every journal entry (who, when, why), newest first. */
import { el } from '../dom.ts';
import { t } from '../i18n.ts';
import { isCall, type AlarmView, type JournalEntry } from './store.ts';
import { reasonText, sevText, stateText, timeText } from './text.ts';

const title = () => el('h3', {}, t('a_p_title'));

export function historyLoading(): Node[] {
  return [title(), el('p', { class: 'muted' }, '…')];
}

export function historyFailed(message: string): Node[] {
  return [title(), el('p', { class: 'error' }, message)];
}

export function historyPanel(o: { id: string; alarm: AlarmView | null; events: readonly JournalEntry[]; sourceName(a: AlarmView): string; onClose(): void }): Array<Node | string> {
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
    .map((e) => {
      // a transition says from what to what and why; an escalation only that it happened
      const tr = e.kind === 'transition' ? e : null;
      const by = e.kind === 'escalation' ? undefined : e.by;
      const comment = e.kind === 'escalation' ? undefined : e.comment;
      return el(
        'li',
        { 'data-reason': tr?.reason ?? e.kind },
        el('time', {}, timeText(e.at)),
        ' ',
        el('b', {}, tr ? stateText(tr.to) : e.kind),
        tr ? el('span', { class: 'muted' }, ` (${reasonText(tr.reason)})`) : '',
        by ? ` · ${by}` : '',
        comment ? ` · “${comment}”` : '',
        tr?.until ? ` · ${t('a_p_until', { until: timeText(tr.until) })}` : '',
      );
    });
  return [
    el('div', { class: 'side-head' }, title(), close),
    head,
    el('p', { class: 'mono' }, id),
    rows.length ? el('ol', { class: 'hist' }, ...rows) : el('p', { class: 'muted' }, t('a_p_empty')),
  ];
}
