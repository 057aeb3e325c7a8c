/**
 * 停电信息 — the outage pool: outages now, planned outages to come, history
 * (each filtered by station), one outage's detail, one plan's page with the
 * confirm step and delivery per customer, the plan form, the CSV import and
 * the topology-mismatch findings. Lists and details refresh every few
 * seconds while shown. Routes:
 *   #/outages[?tab=now|upcoming|history&site=<id>]
 *   #/outages/outage/<id>   #/outages/plan/<id>
 *   #/outages/new[?site=<id>]   #/outages/import   #/outages/findings[?fs=open|resolved|history]
 */
import '../outages/outages.css';
import { el } from '../dom.ts';
import { t, type MsgKey } from '../i18n.ts';
import { outageDetail, planDetail } from '../outages/detail.ts';
import { planForm } from '../outages/form.ts';
import { poolList } from '../outages/list.ts';
import { tabOf, TABS } from '../outages/model.ts';
import { findingsPage, importPage } from '../outages/pages.ts';
import { namesOf } from '../outages/text.ts';
import type { View, ViewContext } from './common.ts';

const REFRESH_MS = 4_000;

export function outagesView(ctx: ViewContext): View {
  const [page = '', id = ''] = ctx.params;
  const names = namesOf(ctx.topo);
  const now = () => ctx.live.now();
  const op = ctx.me.role !== 'viewer';
  const tab = tabOf(ctx.query.get('tab'));
  const site = ctx.query.get('site') ?? '';
  const current = page === 'findings' ? 'findings' : page ? '' : tab;

  const link = (key: MsgKey, hash: string, on: boolean, attrs: Record<string, string> = {}) => el('a', { href: hash, class: on ? 'on' : '', ...attrs }, t(key));
  const siteQ = site ? `&site=${encodeURIComponent(site)}` : '';
  const tabs = el(
    'nav',
    { class: 'seg pool-tabs', 'aria-label': t('nav_outages') },
    ...TABS.map((x) => link(`o_tab_${x}` as MsgKey, `#/outages?tab=${x}${siteQ}`, current === x, { 'data-tab': x })),
    link('o_tab_findings', '#/outages/findings', current === 'findings', { 'data-tab': 'findings' }),
  );
  const siteSel = el('select', { class: 'site-filter', 'aria-label': t('o_site') }, el('option', { value: '' }, t('o_allSites')), ...ctx.topo.topology.sites.map((s) => el('option', { value: s.id }, s.name)));
  siteSel.value = site;
  siteSel.addEventListener('change', () => {
    const q = new URLSearchParams({ tab });
    if (siteSel.value) q.set('site', siteSel.value);
    location.hash = `#/outages?${q}`;
  });
  const tools = el('div', { class: 'pool-tools' });
  if (!page) tools.append(siteSel);
  if (op) tools.append(link('o_newPlan', `#/outages/new${site ? `?site=${encodeURIComponent(site)}` : ''}`, page === 'new', { class: 'button new-plan' }), link('o_importPlans', '#/outages/import', page === 'import', { class: 'button import-plans' }));
  const head = el('div', { class: 'pool-head' }, el('h2', {}, t('nav_outages')), tabs, tools);

  let body: HTMLElement;
  let refresh: (() => Promise<void>) | null = null;
  let tick: (n: number) => void = () => undefined;
  let poll = true;
  if (page === 'outage' && id) {
    const d = outageDetail(id, names, now);
    ({ root: body, tick } = d);
    refresh = d.refresh;
  } else if (page === 'plan' && id) {
    const d = planDetail(id, names, ctx.me.role, now);
    body = d.root;
    refresh = d.refresh;
  } else if (page === 'new') {
    body = planForm(ctx.topo, ctx.me.role, now, ctx.query.get('site') ?? '');
  } else if (page === 'import') {
    body = importPage();
  } else if (page === 'findings') {
    const q = ctx.query.get('fs');
    const fs = q === 'resolved' || q === 'history' ? q : 'open';
    const f = findingsPage(ctx.me.role, names, fs, (s) => (location.hash = `#/outages/findings?fs=${s}`));
    body = f.root;
    refresh = f.refresh;
    // an admin typing a note is not interrupted; the list refreshes after each resolve
    poll = false;
  } else {
    const l = poolList(tab, site, names, now);
    body = l.root;
    refresh = l.refresh;
    tick = l.tick;
  }
  const root = el('div', { class: 'view outages', 'data-page': page || tab }, head, body);

  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  const loop = async () => {
    if (!refresh || stopped) return;
    await refresh();
    if (poll && !stopped) timer = setTimeout(() => void loop(), REFRESH_MS);
  };
  return {
    root,
    // no readings needed; the alarm frames come whatever the filter
    filter: null,
    start: () => void loop(),
    onReadings: () => undefined,
    tick: () => tick(now()),
    destroy() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
