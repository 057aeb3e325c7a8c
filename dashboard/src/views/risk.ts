/**
 * 风险码 — the service-risk code of the supply stations: the ranking of a day
 * worst first (code as badge and word, score, 30-day trend, change from the
 * previous score, driving indicator, high-risk days this month with the
 * "> 7 days" flag, open items), filtered by code, with a day picker, the
 * "compute now" button for the center's operators, the open items and the
 * links to the center's reports. Routes:
 *   #/risk[?day=YYYY-MM-DD&code=red|yellow|green|none]
 *   #/risk/<station>[?day=YYYY-MM-DD]     the drill-down (views/risk-station.ts)
 *   #/risk/items/<id>                      one item with its follow-up (views/risk-item.ts)
 */
import './risk.css';
import type { RiskItem, RiskRanking, RiskRankingRow } from '../../../contract/risk.ts';
import { el, setText } from '../dom.ts';
import { getLang, locale, t } from '../i18n.ts';
import type { View, ViewContext } from './common.ts';
import { riskItemPage, itemsTable } from './risk-item.ts';
import { canCompute, codeBadge, deltaText, failText, indicatorName, localToday, num, riskApi, riskHref, sparkline, type RiskModelInfo } from './risk-parts.ts';
import { riskStationPage } from './risk-station.ts';

const REFRESH_MS = 30_000;
/** worst first; "none": no score that day */
const CODE_FILTERS = ['red', 'yellow', 'green', 'none'] as const;

export interface RiskPage {
  root: HTMLElement;
  refresh(): Promise<void>;
}

export function riskView(ctx: ViewContext): View {
  const [first = '', second = ''] = ctx.params;
  const page: RiskPage = first === 'items' && second ? riskItemPage(ctx, second) : first ? riskStationPage(ctx, first) : rankingPage(ctx);
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;
  const loop = async () => {
    if (stopped) return;
    await page.refresh();
    // the item page holds a form being typed: it refreshes after each action, not on a timer
    if (!stopped && !(first === 'items' && second)) timer = setTimeout(() => void loop(), REFRESH_MS);
  };
  return {
    root: el('div', { class: 'view risk', 'data-page': first === 'items' ? 'item' : first ? 'station' : 'ranking' }, page.root),
    filter: { devices: [] },
    start: () => void loop(),
    onReadings: () => undefined,
    tick: () => undefined,
    destroy() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** the links to the center's sheets (the report paths of contract/risk.ts) for a day */
export function reportLinks(day: string): HTMLElement {
  const q = (format: string) => new URLSearchParams({ day, format, lang: getLang() });
  const link = (key: 'reportDaily' | 'reportWeekly' | 'reportMonthly', label: 'rk_reportDaily' | 'rk_reportWeekly' | 'rk_reportMonthly') =>
    el('span', { class: 'rlink', 'data-report': key }, el('a', { href: riskHref(key, {}, q('html')), target: '_blank', rel: 'noopener' }, t(label)), ' ', el('a', { href: riskHref(key, {}, q('pdf')), target: '_blank', rel: 'noopener', class: 'fmt' }, t('rk_pdf')), ' ', el('a', { href: riskHref(key, {}, q('csv')), download: '', class: 'fmt' }, t('rk_csv')));
  return el('div', { class: 'rk-reports' }, el('span', { class: 'k' }, t('rk_reports')), link('reportDaily', 'rk_reportDaily'), link('reportWeekly', 'rk_reportWeekly'), link('reportMonthly', 'rk_reportMonthly'));
}

function rankingPage(ctx: ViewContext): RiskPage {
  const q = ctx.query;
  let day = /^\d{4}-\d{2}-\d{2}$/.test(q.get('day') ?? '') ? q.get('day')! : '';
  let code = CODE_FILTERS.includes(q.get('code') as never) ? q.get('code')! : '';
  let model: RiskModelInfo | null = null;
  let ranking: RiskRanking | null = null;

  const dayIn = el('input', { class: 'rk-day', type: 'date', 'aria-label': t('rk_day') });
  dayIn.value = day || localToday();
  const seg = el('span', { class: 'seg rk-codes', role: 'group', 'aria-label': t('rk_code') });
  const segBtn = (c: string, label: string) => {
    const b = el('button', { type: 'button', 'data-code': c, class: c === code ? 'on' : '' }, label);
    b.addEventListener('click', () => {
      code = c;
      for (const x of seg.querySelectorAll<HTMLElement>('button')) x.classList.toggle('on', x.dataset.code === code);
      setQuery();
      paint();
    });
    return b;
  };
  seg.append(segBtn('', t('rk_allCodes')), ...CODE_FILTERS.map((c) => segBtn(c, t(`rk_code_${c}`))));
  const computeBtn = el('button', { type: 'button', class: 'act primary rk-compute' }, t('rk_compute'));
  const status = el('div', { class: 'muted rk-status', role: 'status' });
  const summary = el('div', { class: 'rk-summary' });
  const head = el('tr');
  for (const k of ['rk_rank', 'rk_station', 'rk_code', 'rk_score', 'rk_trend', 'rk_delta', 'rk_driving', 'rk_highDays', 'rk_openItems'] as const) head.append(el('th', { class: k === 'rk_score' || k === 'rk_delta' || k === 'rk_highDays' || k === 'rk_openItems' ? 'num' : '' }, t(k)));
  const tbody = el('tbody');
  const itemsBox = el('div', {}, el('div', { class: 'empty' }, t('loading')));
  const reports = el('div');
  const toolbar = el('div', { class: 'toolbar' }, el('span', { class: 'k' }, t('rk_day')), dayIn, seg);
  if (canCompute(ctx.me)) toolbar.append(computeBtn);
  const root = el(
    'div',
    { class: 'rk-ranking' },
    el('h2', {}, t('rk_title')),
    toolbar,
    reports,
    status,
    summary,
    el('table', { class: 'rtable rk-table' }, el('thead', {}, head), tbody),
    el('section', { class: 'panel rk-open-items' }, el('h3', {}, t('rk_allItems')), itemsBox),
  );

  const setQuery = () => {
    const p = new URLSearchParams();
    if (day) p.set('day', day);
    if (code) p.set('code', code);
    ctx.setQuery(p);
  };

  const row = (r: RiskRankingRow, rank: number) => {
    const d = deltaText(r.score, r.previousScore);
    const href = `#/risk/${encodeURIComponent(r.station)}${day ? `?day=${day}` : ''}`;
    const tr = el(
      'tr',
      { class: `rc-row-${r.code ?? 'none'}${r.flagged ? ' flagged' : ''}`, 'data-station': r.station, 'data-code': r.code ?? 'none' },
      el('td', { class: 'num' }, String(rank)),
      el('td', {}, el('a', { href }, r.name || r.station)),
      el('td', {}, codeBadge(r.code)),
      el('td', { class: 'num score' }, num(r.score)),
      el('td', { class: 'trend' }, sparkline(r.trend, model?.thresholds ?? null)),
      el('td', { class: `num ${d.cls}` }, d.text),
      el('td', { class: 'driving', 'data-driving': r.driving ?? '' }, indicatorName(r.driving)),
      el('td', { class: 'num high-days' }, String(r.highRiskDaysThisMonth), ...(r.flagged ? [' ', el('span', { class: 'badge b-flag', title: t('rk_flaggedTip') }, t('rk_flagged'))] : [])),
      el('td', { class: 'num' }, r.openItems ? el('a', { href }, String(r.openItems)) : '0'),
    );
    tr.addEventListener('click', (ev) => {
      if ((ev.target as HTMLElement).closest('a')) return;
      location.hash = href;
    });
    return tr;
  };

  const paint = () => {
    if (!ranking) return;
    const rows = ranking.rows.filter((r) => !code || (r.code ?? 'none') === code);
    const count = (c: string) => ranking!.rows.filter((r) => (r.code ?? 'none') === c).length;
    setText(summary, t('rk_summary', { n: ranking.rows.length, red: count('red'), yellow: count('yellow'), green: count('green'), none: count('none') }));
    tbody.replaceChildren(...rows.map((r, i) => row(r, i + 1)));
    setText(status, !ranking.rows.length ? t('rk_none') : !rows.length ? t('rk_noMatch') : ranking.computedAt ? t('rk_computedAt', { at: new Date(ranking.computedAt).toLocaleString(locale(), { hour12: false }) }) : '');
    root.dataset.loaded = ranking.day;
    root.dataset.computedAt = String(ranking.computedAt ?? '');
  };

  const loadItems = async () => {
    try {
      const items: RiskItem[] = (await riskApi.items({})).filter((i) => i.state !== 'closed');
      itemsBox.replaceChildren(itemsTable(items, ctx, true));
    } catch (e) {
      itemsBox.replaceChildren(el('div', { class: 'empty error', role: 'alert' }, failText(e)));
    }
  };

  const page: RiskPage = {
    root,
    async refresh() {
      if (!model) model = await riskApi.model().catch(() => null);
      if (!dayIn.value) dayIn.value = localToday(model?.timezone);
      try {
        ranking = await riskApi.ranking(day);
      } catch (e) {
        // no risk model on this server: its risk routes are not served
        setText(status, (e as { status?: number }).status === 404 ? t('rk_disabled') : failText(e));
        status.classList.add('error');
        root.dataset.loaded = 'failed';
        return;
      }
      status.classList.remove('error');
      if (!day && ranking.day) dayIn.value = ranking.day;
      reports.replaceChildren(reportLinks(ranking.day || dayIn.value));
      paint();
      await loadItems();
    },
  };

  dayIn.addEventListener('change', () => {
    day = dayIn.value;
    setQuery();
    void page.refresh();
  });
  computeBtn.addEventListener('click', async () => {
    computeBtn.disabled = true;
    setText(computeBtn, t('rk_computing'));
    try {
      await riskApi.compute(day || dayIn.value);
      await page.refresh();
    } catch (e) {
      setText(status, t('rk_computeFailed', { msg: (e as Error).message }));
      status.classList.add('error');
    } finally {
      computeBtn.disabled = false;
      setText(computeBtn, t('rk_compute'));
    }
  });
  return page;
}
