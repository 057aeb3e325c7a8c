/**
 * One station's service risk (#/risk/<station>[?day=]): the day's code and
 * score, how the day came to be (daily run, operator's run, today's running
 * estimate), the dimension scores, every indicator (value, unit, normalised
 * risk level as a bar, weight, contribution, status — one with no input in
 * gridwatch says so, it is never shown as 0), the score history on uPlot
 * with the yellow and red thresholds, the station's items, and its report.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { RISK_DIMENSIONS, type StationRiskDay } from '../../../contract/risk.ts';
import { el, setText } from '../dom.ts';
import { getLang, t, type MsgKey } from '../i18n.ts';
import type { ViewContext } from './common.ts';
import { itemsTable } from './risk-item.ts';
import { addDays, codeBadge, deltaText, failText, localToday, indicatorName, indicatorUnit, keyed, levelBar, num, riskApi, riskHref, timeText, type RiskModelInfo } from './risk-parts.ts';
import type { RiskPage } from './risk.ts';

const DAY_MS = 86_400_000;
/** days of score history on the chart */
const HISTORY_DAYS = 60;

export function riskStationPage(ctx: ViewContext, station: string): RiskPage {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(ctx.query.get('day') ?? '') ? ctx.query.get('day')! : '';
  const name = ctx.topo.topology.sites.find((s) => s.id === station)?.name ?? station;
  const back = el('a', { class: 'back', href: `#/risk${day ? `?day=${day}` : ''}` }, t('rk_back'));
  const headBox = el('div', { class: 'panel head' }, el('h2', {}, t('rk_stationTitle', { name })), el('div', { class: 'empty' }, t('loading')));
  const dimBox = el('div', { class: 'rk-dims' });
  const indBody = el('tbody');
  const indHead = el('tr');
  for (const k of ['rk_indicator', 'rk_value', 'rk_unit', 'rk_normalised', 'rk_weight', 'rk_contribution', 'rk_status'] as const) indHead.append(el('th', { class: k === 'rk_value' || k === 'rk_weight' || k === 'rk_contribution' ? 'num' : '' }, t(k)));
  const chartBox = el('div', { class: 'rk-chart' });
  const itemsBox = el('div', {}, el('div', { class: 'empty' }, t('loading')));
  const status = el('div', { class: 'muted', role: 'status' });
  const root = el(
    'div',
    { class: 'rk-station', 'data-station': station },
    back,
    headBox,
    status,
    el('section', { class: 'panel' }, el('h3', {}, t('rk_dimensions')), dimBox),
    el('section', { class: 'panel' }, el('h3', {}, t('rk_indicators')), el('table', { class: 'rtable rk-indicators' }, el('thead', {}, indHead), indBody)),
    el('section', { class: 'panel' }, el('h3', {}, t('rk_history')), chartBox),
    el('section', { class: 'panel' }, el('h3', {}, t('rk_items')), itemsBox),
  );

  let model: RiskModelInfo | null = null;
  let plot: uPlot | null = null;
  let shownHistory = '';

  const paintHead = (d: StationRiskDay, prev: StationRiskDay | undefined) => {
    const delta = deltaText(d.score, prev?.score ?? null);
    const q = (format: string) => new URLSearchParams({ day: d.day, format, lang: getLang() });
    headBox.replaceChildren(
      el('h2', {}, t('rk_stationTitle', { name }), ' ', codeBadge(d.code), ' ', el('span', { class: 'big-score', 'data-score': String(d.score ?? '') }, num(d.score)), ' ', el('span', { class: delta.cls }, delta.text)),
      el(
        'div',
        { class: 'kvs' },
        kv(t('rk_day'), d.day),
        kv(t('rk_driving'), indicatorName(d.driving)),
        kv(t('rk_coverage'), `${num(d.coverage * 100, 0)}%`),
        kv(t('rk_windowK'), t('rk_window', { from: timeText(d.window.from), to: timeText(d.window.to) }), true),
        kv(keyed('rk_run_', d.run), timeText(d.computedAt)),
      ),
      el(
        'div',
        { class: 'rk-reports' },
        el('span', { class: 'k' }, t('rk_reportStation')),
        el('a', { href: riskHref('reportStation', { station }, q('html')), target: '_blank', rel: 'noopener', 'data-report': 'station' }, 'HTML'),
        el('a', { href: riskHref('reportStation', { station }, q('pdf')), target: '_blank', rel: 'noopener', class: 'fmt' }, t('rk_pdf')),
        el('a', { href: riskHref('reportStation', { station }, q('csv')), download: '', class: 'fmt' }, t('rk_csv')),
      ),
    );
    dimBox.replaceChildren(
      ...RISK_DIMENSIONS.map((k) => el('div', { class: 'rk-dim', 'data-dim': k }, el('span', { class: 'k' }, t(`rk_dim_${k}` as MsgKey)), levelBar(d.dimensions[k]), el('b', {}, num(d.dimensions[k])))),
    );
    indBody.replaceChildren(
      ...d.indicators.map((i) =>
        el(
          'tr',
          { 'data-indicator': i.id, 'data-status': i.status, class: `st-${i.status}${i.id === d.driving ? ' driving' : ''}` },
          el('td', {}, indicatorName(i.id)),
          el('td', { class: 'num' }, i.status === 'ok' || i.status === 'invalid' ? num(i.value) : '—'),
          el('td', {}, indicatorUnit(i.id)),
          el('td', { class: 'level' }, levelBar(i.status === 'ok' ? i.normalised : null), el('small', {}, i.status === 'ok' ? num(i.normalised, 0) : '')),
          el('td', { class: 'num' }, num(i.weight, 3)),
          el('td', { class: 'num' }, i.status === 'ok' ? num(i.contribution) : '—'),
          el('td', { class: 'status' }, keyed('rk_st_', i.status)),
        ),
      ),
    );
  };

  const paintHistory = (days: StationRiskDay[]) => {
    const key = days.map((d) => `${d.day}:${d.score}`).join();
    if (key === shownHistory) return;
    shownHistory = key;
    chartBox.dataset.days = String(days.length);
    plot?.destroy();
    plot = null;
    chartBox.replaceChildren();
    if (!days.length) {
      chartBox.append(el('div', { class: 'empty' }, t('rk_noHistory')));
      return;
    }
    // one point per station day, at its local noon in the model's zone (+08:00 by default)
    const xs = days.map((d) => (Date.parse(`${d.day}T12:00:00${model?.timezone ?? '+08:00'}`) || 0) / 1000);
    const th = model?.thresholds;
    const line = (label: string, stroke: string) => ({ label, stroke, dash: [6, 4], width: 1, points: { show: false } });
    const series: uPlot.Series[] = [{}, { label: t('rk_series'), stroke: '#4fc3f7', width: 2, points: { show: true, size: 6 }, spanGaps: false }];
    const data: uPlot.AlignedData = [xs, days.map((d) => d.score)];
    if (th) {
      series.push(line(t('rk_yellowLine', { v: th.yellow }), '#f2a100'), line(t('rk_redLine', { v: th.red }), '#e5484d'));
      data.push(xs.map(() => th.yellow), xs.map(() => th.red));
    }
    plot = new uPlot(
      {
        width: Math.max(320, chartBox.clientWidth || 800),
        height: 220,
        series,
        axes: [{ stroke: '#9fb0c0', grid: { stroke: '#243240' } }, { stroke: '#9fb0c0', grid: { stroke: '#243240' } }],
        scales: { x: { time: true, ...(xs.length === 1 ? { range: (_u: uPlot, a: number) => [a - DAY_MS / 1000, a + DAY_MS / 1000] as [number, number] } : {}) }, y: { range: [0, 100] } },
        tzDate: (sec) => uPlot.tzDate(new Date(sec * 1000), 'Etc/GMT-8'),
      },
      data,
      chartBox,
    );
  };

  return {
    root,
    async refresh() {
      if (!model) model = await riskApi.model().catch(() => null);
      try {
        const to = day || localToday(model?.timezone);
        const days = (await riskApi.station(station, addDays(to, -(HISTORY_DAYS - 1)), to)).days;
        const cur = days.at(-1);
        if (!cur) {
          headBox.replaceChildren(el('h2', {}, t('rk_stationTitle', { name })), el('div', { class: 'empty' }, t('rk_noHistory')));
          indBody.replaceChildren();
          dimBox.replaceChildren();
        } else paintHead(cur, [...days.slice(0, -1)].reverse().find((d) => d.score !== null));
        paintHistory(days);
        setText(status, '');
        root.dataset.loaded = cur?.day ?? '';
      } catch (e) {
        setText(status, failText(e));
      }
      try {
        itemsBox.replaceChildren(itemsTable(await riskApi.items({ station }), ctx, false));
      } catch (e) {
        itemsBox.replaceChildren(el('div', { class: 'empty error', role: 'alert' }, failText(e)));
      }
    },
  };
}

function kv(k: string, v: Node | string, wide = false): HTMLElement {
  return el('div', { class: `kv${wide ? ' wide' : ''}` }, el('span', { class: 'kv-k' }, k), el('span', { class: 'kv-v' }, v));
}
