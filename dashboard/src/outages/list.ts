/**
 * The pool's lists: outages now (with the plans in progress), planned
 * outages to come (with their notice status), and history (outages and
 * finished plans). Each row links to its detail.
 */
import { el, setText } from '../dom.ts';
import { locale, t, type MsgKey } from '../i18n.ts';
import { listOutages, listPlans } from './api.ts';
import { customerHoursAt, durationMs, hoursText, planInSite, scopeText, siteMatches, sortOutages, sortPlans, type Names, type Tab } from './model.ts';
import { causeText, durationText, planScopeText, noticeText, outageStateText, planStateText, timeText, windowText } from './text.ts';
import type { OutageSummary, Plan } from './types.ts';

export interface PoolList {
  root: HTMLElement;
  refresh(): Promise<void>;
  tick(now: number): void;
}

const th = (k: MsgKey, cls = '') => el('th', cls ? { class: cls } : {}, t(k));

function customersCell(n: number, important: number | undefined): HTMLElement {
  return el('td', { class: 'num' }, t('o_nCustomers', { n }), important ? el('span', { class: 'badge b-imp' }, t('o_importantN', { n: important })) : '');
}

function outageTable(list: readonly OutageSummary[], names: Names, now: number, live: Map<string, { dur: HTMLElement; ch: HTMLElement; o: OutageSummary }>): HTMLElement {
  const head = el('tr', {}, th('o_scope'), th('o_cause'), th('o_start'), th('o_duration', 'num'), th('o_customers', 'num'), th('o_custHours', 'num'), th('o_notices'), th('o_state'));
  const rows = list.map((o) => {
    const dur = el('td', { class: 'num dur' }, durationText(durationMs(o, now)));
    const ch = el('td', { class: 'num ch' }, hoursText(customerHoursAt(o, now)));
    if (o.state === 'active') live.set(o.id, { dur, ch, o });
    const nt = noticeText(o.noticeSummary);
    return el(
      'tr',
      { class: `orow cause-${o.cause} st-${o.state}`, 'data-outage': o.id },
      el('td', { class: 'scope' }, el('a', { href: `#/outages/outage/${encodeURIComponent(o.id)}` }, scopeText(o.scope, names)), o.nested ? el('small', {}, `${t('o_nestedOf')} ${o.nested}`) : ''),
      el('td', {}, el('span', { class: `cause c-${o.cause}` }, causeText(o.cause))),
      el('td', { class: 'time' }, timeText(o.start)),
      dur,
      customersCell(o.customers, o.important),
      ch,
      el('td', {}, o.noticeSummary ? el('span', { class: nt.cls }, nt.text) : '—'),
      el('td', {}, el('span', { class: `ost ost-${o.state}` }, outageStateText(o.state))),
    );
  });
  return el('table', { class: 'otable outages' }, el('thead', {}, head), el('tbody', {}, ...rows));
}

function planTable(list: readonly Plan[], names: Names): HTMLElement {
  const head = el('tr', {}, th('o_scope'), th('o_window'), th('o_reason'), th('o_workOrder'), th('o_crew'), th('o_customers', 'num'), th('o_state'), th('o_notices'));
  const rows = list.map((p) => {
    const nt = noticeText(p.noticeSummary);
    return el(
      'tr',
      { class: `prow ps-${p.state}`, 'data-plan': p.id },
      el('td', { class: 'scope' }, el('a', { href: `#/outages/plan/${encodeURIComponent(p.id)}` }, planScopeText(p.scope, names))),
      el('td', { class: 'time' }, windowText(p.start, p.end)),
      el('td', {}, p.reason),
      el('td', { class: 'mono' }, p.workOrder ?? ''),
      el('td', {}, p.crew ?? ''),
      customersCell(p.customers, p.important),
      el('td', {}, el('span', { class: `pst pst-${p.state}` }, planStateText(p.state)), p.late ? el('span', { class: 'badge b-late' }, t('o_late')) : ''),
      el('td', {}, el('span', { class: nt.cls }, nt.text)),
    );
  });
  return el('table', { class: 'otable plans' }, el('thead', {}, head), el('tbody', {}, ...rows));
}

function section(title: MsgKey, body: HTMLElement | null, emptyKey: MsgKey): HTMLElement {
  return el('section', { class: 'panel' }, el('h3', {}, t(title)), body ?? el('div', { class: 'empty small' }, t(emptyKey)));
}

export function poolList(tab: Tab, site: string, names: Names, now: () => number): PoolList {
  const root = el('div', { class: 'pool-list', 'data-tab': tab });
  const live = new Map<string, { dur: HTMLElement; ch: HTMLElement; o: OutageSummary }>();
  const status = el('p', { class: 'muted small status', role: 'status' });
  root.append(el('div', { class: 'empty' }, t('loading')));
  return {
    root,
    async refresh() {
      try {
        live.clear();
        const at = now();
        const parts: HTMLElement[] = [];
        if (tab === 'now') {
          const [outages, active] = await Promise.all([listOutages('now', site || undefined), listPlans('active', site || undefined)]);
          const os = sortOutages(outages.filter((o) => o.state !== 'merged' && siteMatches(o.scope, site)));
          parts.push(section('o_outagesTitle', os.length ? outageTable(os, names, at, live) : null, 'o_noOutages'));
          const ps = sortPlans(active.filter((p) => planInSite(p, site)));
          if (ps.length) parts.push(section('o_activePlans', planTable(ps, names), 'o_noPlans'));
        } else if (tab === 'upcoming') {
          const plans = sortPlans((await listPlans('upcoming', site || undefined)).filter((p) => planInSite(p, site)));
          parts.push(section('o_plansTitle', plans.length ? planTable(plans, names) : null, 'o_noPlans'));
        } else {
          const [outages, plans] = await Promise.all([listOutages('history', site || undefined), listPlans('history', site || undefined)]);
          const os = sortOutages(outages.filter((o) => o.state !== 'merged' && siteMatches(o.scope, site)));
          const ps = sortPlans(plans.filter((p) => planInSite(p, site))).reverse();
          parts.push(section('o_outagesTitle', os.length ? outageTable(os, names, at, live) : null, 'o_noHistory'));
          parts.push(section('o_plansTitle', ps.length ? planTable(ps, names) : null, 'o_noPlanHistory'));
        }
        setText(status, t('o_refreshed', { t: new Date(at).toLocaleTimeString(locale(), { hour12: false }) }));
        root.replaceChildren(...parts, status);
      } catch (e) {
        root.replaceChildren(el('div', { class: 'empty error', role: 'alert' }, t('o_loadFailed', { msg: (e as Error).message })));
      }
    },
    tick(at) {
      for (const { dur, ch, o } of live.values()) {
        setText(dur, durationText(durationMs(o, at)));
        setText(ch, hoursText(customerHoursAt(o, at)));
      }
    },
  };
}
