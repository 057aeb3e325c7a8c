/**
 * Risk items: the table of a station's (or every station's open) items with
 * their latest follow-up, and one item's page (#/risk/items/<id>) — the code
 * that opened it, who answers it and by when, its journal, the follow-up form
 * for the station (or a center operator on its behalf) and verify / reject for
 * the center. A form appears only where the user's role and stations allow it;
 * the server checks again.
 */
import type { RiskCode, RiskItem, RiskItemEvent, RiskStep } from '../../../contract/risk.ts';
import { el, setText } from '../dom.ts';
import { hasKey, t, type MsgKey } from '../i18n.ts';
import type { ViewContext } from './common.ts';
import { canFollowUp, canVerify, codeBadge, codeText, failText, indicatorName, keyed, riskApi, timeText } from './risk-parts.ts';
import type { RiskPage } from './risk.ts';

const stateBadge = (item: RiskItem) => el('span', { class: `rstate rs-${item.state}`, 'data-state': item.state }, keyed('rk_state_', item.state));
const lastFollowUp = (item: RiskItem): RiskItemEvent | undefined => [...item.events].reverse().find((e) => e.kind === 'follow-up');

/** A step's parameter as the page says it: codes, indicators, times, stations and lists in the page's language. */
function stepVar(name: string, v: RiskStep['p'][string], siteName: (id: string) => string): string {
  if (Array.isArray(v)) return v.length ? v.join(t('rk_listSep')) : name === 'names' ? t('rk_nobody') : '—';
  const s = String(v);
  if (name === 'code' || name === 'from' || name === 'to') return codeText(s as RiskCode);
  if (name === 'driving') return indicatorName(s);
  if (name === 'due') return timeText(Number(v));
  if (name === 'notice') return keyed('rk_ev_', s);
  if (name === 'station') return siteName(s);
  return s;
}

/**
 * What a journal line says under its step: people's words as written (the
 * follow-up, the verification note); the system's steps (`ev`, a kind with
 * parameters) in the page's own language. A step of a kind this page does
 * not know shows the server's English text.
 */
export function eventText(e: RiskItemEvent, siteName: (id: string) => string = (id) => id): string {
  const ev = e.ev;
  const key = ev ? `rk_step_${ev.k}` : '';
  if (!ev || !hasKey(key)) return e.text ?? '';
  const vars: Record<string, string> = { driving: indicatorName(null), names: t('rk_nobody') };
  for (const [k, v] of Object.entries(ev.p)) vars[k] = stepVar(k, v, siteName);
  return t(key, vars);
}

export function itemsTable(items: RiskItem[], ctx: ViewContext, showStation: boolean): HTMLElement {
  if (!items.length) return el('div', { class: 'empty' }, t('rk_noItems'));
  const siteName = (id: string) => ctx.topo.topology.sites.find((s) => s.id === id)?.name ?? id;
  const heads: MsgKey[] = ['rk_item', ...(showStation ? (['rk_station'] as const) : []), 'rk_openedCode', 'rk_itemDay', 'rk_driving', 'rk_itemState', 'rk_dueAt', 'rk_assignees', 'rk_followUp'];
  const head = el('tr', {}, ...heads.map((k) => el('th', {}, k === 'rk_item' ? t('rk_item', { id: '' }).trim() : t(k))));
  const sorted = [...items].sort((a, b) => b.openedAt - a.openedAt);
  const rows = sorted.map((i) => {
    const f = lastFollowUp(i);
    return el(
      'tr',
      { 'data-item': i.id, 'data-state': i.state, class: i.escalated && i.state === 'open' ? 'escalated' : '' },
      el('td', {}, el('a', { href: `#/risk/items/${encodeURIComponent(i.id)}` }, i.id)),
      ...(showStation ? [el('td', {}, el('a', { href: `#/risk/${encodeURIComponent(i.station)}` }, siteName(i.station)))] : []),
      el('td', {}, codeBadge(i.openedCode)),
      el('td', { class: 'time' }, i.day),
      el('td', {}, indicatorName(i.driving)),
      el('td', {}, stateBadge(i), ...(i.escalated && i.state !== 'closed' ? [' ', el('span', { class: 'badge b-flag' }, t('rk_escalated'))] : [])),
      el('td', { class: 'time' }, timeText(i.dueAt)),
      el('td', {}, i.assignees.map((a) => a.name).join(', ') || t('rk_nobody')),
      el('td', { class: 'follow' }, f ? `${f.text ?? ''} · ${f.by} · ${timeText(f.at)}` : '—'),
    );
  });
  return el('table', { class: 'rtable rk-items' }, el('thead', {}, head), el('tbody', {}, ...rows));
}

export function riskItemPage(ctx: ViewContext, id: string): RiskPage {
  const body = el('div', { class: 'rk-item-body' }, el('div', { class: 'empty' }, t('loading')));
  const root = el('div', { class: 'rk-item', 'data-item': id }, body);
  const siteName = (sid: string) => ctx.topo.topology.sites.find((s) => s.id === sid)?.name ?? sid;

  /** a text box and buttons; each button posts the text and the page reloads the item */
  const form = (cls: string, title: string, hint: string, buttons: Array<{ label: string; cls: string; needText: boolean; run: (text: string) => Promise<unknown> }>) => {
    const text = el('textarea', { rows: '3', class: 'rk-text', placeholder: hint, 'aria-label': title, maxlength: '2000' });
    const msg = el('p', { class: 'msg', role: 'alert' });
    const row = el('div', { class: 'act-row' });
    for (const b of buttons) {
      const btn = el('button', { type: 'button', class: `act ${b.cls}` }, b.label);
      btn.addEventListener('click', async () => {
        const v = text.value.trim();
        if (b.needText && !v) {
          msg.className = 'msg error';
          setText(msg, t('rk_needText'));
          return;
        }
        for (const x of row.querySelectorAll('button')) x.disabled = true;
        try {
          await b.run(v);
          msg.className = 'msg ok';
          setText(msg, t('rk_saved'));
          await page.refresh();
        } catch (e) {
          msg.className = 'msg error';
          setText(msg, t('rk_saveFailed', { msg: (e as Error).message }));
          for (const x of row.querySelectorAll('button')) x.disabled = false;
        }
      });
      row.append(btn);
    }
    return el('section', { class: `panel rk-form ${cls}` }, el('h3', {}, title), text, row, msg);
  };

  const page: RiskPage = {
    root,
    async refresh() {
      let item: RiskItem;
      try {
        item = await riskApi.item(id);
      } catch (e) {
        body.replaceChildren(el('a', { class: 'back', href: '#/risk' }, t('rk_back')), el('div', { class: 'empty error', role: 'alert' }, failText(e)));
        return;
      }
      root.dataset.state = item.state;
      const head = el(
        'div',
        { class: 'panel head' },
        el('h2', {}, t('rk_item', { id: item.id }), ' ', stateBadge(item), ...(item.escalated && item.state !== 'closed' ? [' ', el('span', { class: 'badge b-flag' }, t('rk_escalated'))] : [])),
        el(
          'div',
          { class: 'kvs' },
          kv(t('rk_station'), el('a', { href: `#/risk/${encodeURIComponent(item.station)}` }, siteName(item.station))),
          kv(t('rk_openedCode'), codeBadge(item.openedCode)),
          kv(t('rk_nowCode'), codeBadge(item.code)),
          kv(t('rk_itemDay'), item.day),
          kv(t('rk_driving'), indicatorName(item.driving)),
          kv(t('rk_openedAt'), timeText(item.openedAt)),
          kv(t('rk_dueAt'), timeText(item.dueAt)),
          kv(t('rk_assignees'), item.assignees.map((a) => a.name).join(', ') || t('rk_nobody')),
          ...(item.closedAt ? [kv(t('rk_closedAt'), timeText(item.closedAt))] : []),
        ),
      );
      const journal = el(
        'ol',
        { class: 'timeline rk-journal' },
        ...item.events.map((e) => {
          const text = eventText(e, siteName);
          return el('li', { 'data-kind': e.kind }, el('span', { class: 'time' }, timeText(e.at)), ' ', el('b', {}, keyed('rk_ev_', e.kind)), ` · ${e.by}`, ...(text ? [el('div', { class: 'ev-text' }, text)] : []));
        }),
      );
      const parts: HTMLElement[] = [el('a', { class: 'back', href: `#/risk/${encodeURIComponent(item.station)}` }, t('rk_backStation')), head, el('section', { class: 'panel' }, el('h3', {}, t('rk_events')), journal)];
      if (canFollowUp(ctx.me, item)) parts.push(form('rk-follow', t('rk_followUp'), t('rk_followUpHint'), [{ label: t('rk_followUpSend'), cls: 'primary follow-send', needText: true, run: (v) => riskApi.followUp(id, v) }]));
      if (canVerify(ctx.me, item))
        parts.push(
          form('rk-verify', t('rk_verify'), t('rk_verifyHint'), [
            { label: t('rk_accept'), cls: 'primary verify-accept', needText: false, run: (v) => riskApi.verify(id, true, v) },
            { label: t('rk_reject'), cls: 'verify-reject', needText: true, run: (v) => riskApi.verify(id, false, v) },
          ]),
        );
      body.replaceChildren(...parts);
    },
  };
  return page;
}

function kv(k: string, v: Node | string): HTMLElement {
  return el('div', { class: 'kv' }, el('span', { class: 'kv-k' }, k), el('span', { class: 'kv-v' }, v));
}
