/**
 * One outage (scope, cause, times, customers with their notice delivery,
 * findings, repair calls, timeline) and one plan (the computed customers,
 * the confirm step for operators, delivery per customer while notices go
 * out, cancel). Both refresh while open, so delivery is seen live.
 */
import type { Role } from '../api.ts';
import { el } from '../dom.ts';
import { t } from '../i18n.ts';
import { cancelPlan, confirmPlan, getOutage, getPlan } from './api.ts';
import { customerHoursAt, deliveryByCustomer, durationMs, hoursText, isLate, planActions, scopeText, summarize, type Names } from './model.ts';
import { customersTable, findingsTable, panel, ticketsTable, timelineList } from './parts.ts';
import { causeText, durationText, planScopeText, kindText, noticeText, outageStateText, planStateText, timeText, windowText } from './text.ts';
import type { OutageDetail, PlanDetail } from './types.ts';

export interface DetailPart {
  root: HTMLElement;
  refresh(): Promise<void>;
  tick(now: number): void;
}

const nameOf = (p: PlanDetail, id: string): string => {
  const c = p.rows.find((x) => x.id === id);
  return c ? `${c.name} (${id})` : id;
};
const back = () => el('a', { class: 'back', href: '#/outages' }, t('o_back'));
const kv = (k: string, v: Node | string, attrs: Record<string, string> = {}) => el('div', { class: 'kv', ...attrs }, el('span', { class: 'kv-k' }, k), el('span', { class: 'kv-v' }, v));

function failed(root: HTMLElement, e: unknown): void {
  const msg = (e as { status?: number }).status === 404 ? t('o_notFound') : t('o_loadFailed', { msg: (e as Error).message });
  root.replaceChildren(back(), el('div', { class: 'empty error', role: 'alert' }, msg));
}

export function outageDetail(id: string, names: Names, now: () => number): DetailPart {
  const root = el('div', { class: 'pool-detail outage-detail', 'data-outage': id }, el('div', { class: 'empty' }, t('loading')));
  let o: OutageDetail | null = null;
  const dur = el('span', { class: 'dur' });
  const ch = el('span', { class: 'ch' });
  const paintClock = (at: number) => {
    if (!o) return;
    dur.textContent = durationText(durationMs(o, at));
    ch.textContent = `${hoursText(customerHoursAt(o, at))} ${t('o_hoursUnit')}`;
  };
  return {
    root,
    async refresh() {
      try {
        o = await getOutage(id);
      } catch (e) {
        return failed(root, e);
      }
      const nt = noticeText(o.noticeSummary ?? summarize(deliveryByCustomer(o.rows, o.notices).flatMap((d) => d.notices)));
      paintClock(now());
      const head = el(
        'div',
        { class: 'panel head' },
        el('h2', {}, `${t('o_outage')} · ${scopeText(o.scope, names)}`, ' ', el('span', { class: `cause c-${o.cause}` }, causeText(o.cause)), ' ', el('span', { class: `ost ost-${o.state}` }, outageStateText(o.state))),
        el(
          'div',
          { class: 'kvs' },
          kv(t('o_scopeKind'), kindText(o.scope.kind)),
          kv(t('o_start'), timeText(o.start)),
          kv(t('o_end'), o.end ? timeText(o.end) : '—'),
          kv(t('o_duration'), dur),
          kv(t('o_customers'), `${t('o_nCustomers', { n: o.customers })}${o.important ? ` · ${t('o_importantN', { n: o.important })}` : ''}`),
          kv(t('o_custHours'), ch),
          kv(t('o_notices'), el('span', { class: nt.cls }, nt.text)),
          ...(o.planId ? [kv(t('o_linkedPlan'), el('a', { href: `#/outages/plan/${encodeURIComponent(o.planId)}` }, o.planId))] : []),
          ...(o.nested ? [kv(t('o_nestedOf'), el('a', { href: `#/outages/outage/${encodeURIComponent(o.nested)}` }, o.nested))] : []),
        ),
      );
      root.replaceChildren(
        back(),
        head,
        panel('o_affected', customersTable(o.rows, o.notices), undefined, 'customers'),
        panel('o_tab_findings', findingsTable(o.findingList, names), undefined, 'findings'),
        panel('o_tickets', ticketsTable(o.ticketList), undefined, 'tickets'),
        panel('o_timeline', timelineList(o.timeline), undefined, 'timeline'),
      );
    },
    tick: paintClock,
  };
}

export function planDetail(id: string, names: Names, role: Role, now: () => number): DetailPart {
  const root = el('div', { class: 'pool-detail plan-detail', 'data-plan': id }, el('div', { class: 'empty' }, t('loading')));
  const msg = el('p', { class: 'error', role: 'alert' });
  // the action box is rebuilt only when the plan's state changes: a reason being typed survives the refreshes
  const headBox = el('div', { class: 'panel head' });
  const actions = el('div', { class: 'plan-actions' });
  const diffBox = el('div');
  const customersBox = el('div');
  const timelineBox = el('div');
  let shownState = '';
  let shownCount = 0;
  let busy = false;
  const part: DetailPart = {
    root,
    async refresh() {
      if (busy) return;
      let p: PlanDetail;
      try {
        p = await getPlan(id);
      } catch (e) {
        shownState = '';
        return failed(root, e);
      }
      root.dataset.state = p.state;
      const nt = noticeText(p.noticeSummary ?? summarize(deliveryByCustomer(p.rows, p.notices).flatMap((d) => d.notices)));
      shownCount = p.customers;
      if (p.state !== shownState) paintActions(p);
      headBox.replaceChildren(
        el('h2', {}, `${t('o_plan')} · ${planScopeText(p.scope, names)}`, ' ', el('span', { class: `pst pst-${p.state}` }, planStateText(p.state)), p.late ? el('span', { class: 'badge b-late' }, t('o_late')) : ''),
        el(
          'div',
          { class: 'kvs' },
          kv(t('o_scopeKind'), [...new Set(p.scope.map((e) => kindText(e.kind)))].join(t('o_listSep'))),
          kv(t('o_window'), windowText(p.start, p.end)),
          kv(t('o_duration'), durationText(p.end - p.start)),
          kv(t('o_reason'), p.reason),
          kv(t('o_workOrder'), p.workOrder ?? '—'),
          kv(t('o_crew'), p.crew ?? '—'),
          kv(t('o_customers'), `${t('o_nCustomers', { n: p.customers })}${p.important ? ` · ${t('o_importantN', { n: p.important })}` : ''}`, { 'data-k': 'customers' }),
          kv(t('o_notices'), el('span', { class: nt.cls }, nt.text), { 'data-k': 'notices' }),
          ...(p.confirmedBy ? [kv(t('o_confirmedBy'), p.confirmedBy)] : []),
        ),
        p.state === 'draft' && (p.late ?? isLate(p.start, now())) ? el('p', { class: 'warn' }, t('o_lateWarn', { d: 7 })) : '',
        ...(p.warnings ?? []).map((w) => el('p', { class: 'warn' }, w)),
        p.cancelReason ? el('p', { class: 'muted' }, `${t('o_cancelReasonShown')}${p.cancelReason}`) : '',
        actions,
      );
      diffBox.replaceChildren(
        p.pendingChange && (p.pendingChange.added.length || p.pendingChange.removed.length)
          ? el(
              'div',
              { class: 'panel diff', role: 'alert' },
              el('h3', {}, t('o_diffTitle')),
              ...p.pendingChange.added.map((c) => el('div', { class: 'added' }, `+ ${t('o_added')} ${nameOf(p, c)}`)),
              ...p.pendingChange.removed.map((c) => el('div', { class: 'removed' }, `− ${t('o_removed')} ${c}`)),
            )
          : '',
      );
      customersBox.replaceChildren(panel('o_affected', customersTable(p.rows, p.notices), undefined, 'customers'));
      timelineBox.replaceChildren(panel('o_timeline', timelineList(p.timeline), undefined, 'timeline'));
      if (!root.contains(headBox)) root.replaceChildren(back(), headBox, diffBox, customersBox, timelineBox);
    },
    tick: () => undefined,
  };
  const act = async (fn: () => Promise<unknown>) => {
    busy = true;
    msg.textContent = '';
    try {
      await fn();
    } catch (e) {
      msg.textContent = (e as Error).message;
      // the buttons come back for another try
      shownState = '';
    } finally {
      busy = false;
    }
    await part.refresh();
  };
  function paintActions(p: PlanDetail): void {
    shownState = p.state;
    const can = planActions(p, role);
    actions.replaceChildren();
    // a confirmed plan whose list a reload changed is confirmed again like a draft
    if (p.state === 'draft' || p.pendingChange) {
      actions.append(el('p', { class: 'hint' }, t('o_confirmHint')));
      if (can.confirm) {
        const b = el('button', { type: 'button', class: 'act primary confirm' }, t('o_confirm'));
        b.addEventListener('click', () => {
          b.disabled = true;
          void act(() => confirmPlan(id, shownCount));
        });
        actions.append(b);
      } else actions.append(el('p', { class: 'muted viewer-note' }, t('o_viewerNoConfirm')));
    }
    if (can.cancel) {
      const reason = el('input', { type: 'text', class: 'cancel-reason', placeholder: t('o_cancelReason'), 'aria-label': t('o_cancelReason'), maxlength: '500' });
      const b = el('button', { type: 'button', class: 'act cancel' }, t('o_cancel'));
      b.addEventListener('click', () => {
        if (!reason.value.trim()) return reason.focus();
        void act(() => cancelPlan(id, reason.value.trim()));
      });
      actions.append(el('div', { class: 'act-form' }, reason, b));
    }
    actions.append(msg);
  }
  return part;
}
