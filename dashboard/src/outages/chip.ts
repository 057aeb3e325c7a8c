/** The overview's count of outages now (停电事件), a link to the pool; it stops polling once off the page. */
import { el, setClass, setText } from '../dom.ts';
import { t } from '../i18n.ts';
import { listOutages } from './api.ts';

const POLL_MS = 10_000;

export function outagesSummarySlot(): HTMLElement {
  const n = el('b', {}, '…');
  const chip = el('a', { class: 'chip c-outages', 'data-k': 'outages-now', href: '#/outages?tab=now' }, el('span', {}, t('sum_outagesNow')), n);
  let shown = false;
  const poll = async () => {
    if (shown && !chip.isConnected) return;
    try {
      const list = await listOutages('now');
      const active = list.filter((o) => o.state === 'active').length;
      setText(n, String(active));
      setClass(chip, `chip c-outages c-over${active ? '' : ' zero'}`);
    } catch {
      // no outage pool on this server, or it failed: say so instead of a 0 that would mislead
      setText(n, '—');
      setClass(chip, 'chip c-outages c-na');
    }
    if (chip.isConnected) shown = true;
    setTimeout(() => void poll(), POLL_MS);
  };
  void poll();
  return chip;
}
