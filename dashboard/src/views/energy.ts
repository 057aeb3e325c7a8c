/**
 * Line loss per transformer area (台区线损) of one station: the areas of a
 * day ranked worst first (loss rate, supply, sales, completeness, the live
 * 1-minute estimate), and the chosen area's daily history on uPlot.
 * REST: /api/energy/line-loss/rank, /live, /<site>/<transformer>, .csv.
 * Route: #/energy[?site=<id>&day=YYYY-MM-DD&area=<transformer>]
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { ApiError, api } from '../api.ts';
import { el, setText } from '../dom.ts';
import { getLang, locale, t, type MsgKey } from '../i18n.ts';
import type { View, ViewContext } from './common.ts';

interface Figure {
  site: string;
  room: string;
  transformer: string;
  start: number;
  complete: boolean;
  supplyKwh: number | null;
  salesKwh: number | null;
  lossKwh: number | null;
  lossPct: number | null;
  meters: number;
  missing: string[];
  reason?: string;
  rank?: number;
}
interface Live {
  transformer: string;
  complete: boolean;
  lossPct: number | null;
}

const DAY = 86_400_000;
const HIGH = 10;
const NEGATIVE = -1;

/** yesterday in China Standard Time (the server's default zone): the last day with a figure */
function localYesterday(): string {
  return new Date(Date.now() + 8 * 3_600_000 - DAY).toISOString().slice(0, 10);
}
const pct = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v.toFixed(2)}%`);
const kwh = (v: number | null) => (v === null ? '—' : v.toLocaleString(locale(), { maximumFractionDigits: 1 }));
const flag = (v: number | null) => (v === null ? '' : v > HIGH ? 'high' : v < NEGATIVE ? 'negative' : '');

export function energyView(ctx: ViewContext): View {
  const sites = ctx.topo.topology.sites;
  const q = ctx.query;
  let site = q.get('site') && sites.some((s) => s.id === q.get('site')) ? q.get('site')! : (sites[0]?.id ?? '');
  let day = /^\d{4}-\d{2}-\d{2}$/.test(q.get('day') ?? '') ? q.get('day')! : localYesterday();
  let area = q.get('area') ?? '';

  const siteSel = el('select', { class: 'll-site', 'aria-label': t('ll_site') });
  for (const s of sites) siteSel.append(el('option', { value: s.id }, s.name));
  siteSel.value = site;
  const dayIn = el('input', { class: 'll-day', type: 'date', 'aria-label': t('ll_day') });
  dayIn.value = day;
  const loadBtn = el('button', { type: 'button', class: 'act ll-load' }, t('ll_load'));
  const csv = el('a', { class: 'act export-csv', download: '' }, t('exportCsv'));
  const status = el('div', { class: 'muted ll-status' });
  const summary = el('div', { class: 'll-summary' });
  const head = el('tr');
  for (const k of ['ll_rank', 'll_area', 'll_rate', 'll_supply', 'll_sales', 'll_loss', 'll_complete', 'll_live'] as const) head.append(el('th', {}, t(k)));
  const tbody = el('tbody');
  const table = el('table', { class: 'll-table' }, el('thead', {}, head), tbody);
  const chartTitle = el('h3', { class: 'll-chart-title' }, t('ll_pick'));
  const chartBox = el('div', { class: 'll-chart' });
  const root = el(
    'div',
    { class: 'view energy' },
    el('h2', {}, t('ll_title')),
    el('div', { class: 'toolbar' }, el('span', { class: 'k' }, t('ll_site')), siteSel, dayIn, loadBtn, csv),
    status,
    summary,
    table,
    chartTitle,
    chartBox,
  );

  const areaName = (f: { room: string; transformer: string }): string => {
    const room = ctx.topo.room(site, f.room)?.room;
    const tr = room?.transformers.find((x) => x.id === f.transformer);
    return [room?.name ?? f.room, tr?.name ?? f.transformer].join(' / ');
  };
  const completeness = (f: Figure): string => {
    if (f.complete) return f.reason === 'no_supply' ? t('ll_reason_no_supply') : t('ll_ok');
    if (f.missing.length) return t('ll_missing', { n: f.missing.length, list: f.missing.slice(0, 4).join(', ') + (f.missing.length > 4 ? ' …' : '') });
    return f.reason ? t(`ll_reason_${f.reason}` as MsgKey) : '—';
  };

  let live = new Map<string, Live>();
  let figures: Figure[] = [];
  const liveCells = new Map<string, HTMLElement>();
  const paintLive = () => {
    for (const [tr, cell] of liveCells) {
      const l = live.get(tr);
      setText(cell, l?.complete ? pct(l.lossPct) : '—');
      cell.className = `num live ${l?.complete ? flag(l.lossPct) : ''}`;
    }
  };
  const paintTable = () => {
    liveCells.clear();
    tbody.replaceChildren(
      ...figures.map((f) => {
        const liveCell = el('td', { class: 'num live' });
        liveCells.set(f.transformer, liveCell);
        const fl = flag(f.lossPct);
        const row = el(
          'tr',
          { class: `${f.complete ? '' : 'incomplete'} ${f.transformer === area ? 'open' : ''}`, 'data-transformer': f.transformer },
          el('td', { class: 'num' }, String(f.rank ?? '')),
          el('td', {}, areaName(f)),
          el('td', { class: `num rate ${fl}` }, pct(f.lossPct), ...(fl ? [el('span', { class: `tag ${fl}` }, t(fl === 'high' ? 'll_high' : 'll_negative'))] : [])),
          el('td', { class: 'num' }, kwh(f.supplyKwh)),
          el('td', { class: 'num' }, kwh(f.salesKwh)),
          el('td', { class: 'num' }, kwh(f.lossKwh)),
          el('td', { class: f.complete ? 'ok' : 'bad' }, completeness(f)),
          liveCell,
        );
        row.addEventListener('click', () => {
          area = f.transformer;
          for (const r of tbody.querySelectorAll('tr')) r.classList.toggle('open', r.dataset.transformer === area);
          setQuery();
          void loadHistory();
        });
        return row;
      }),
    );
    paintLive();
  };

  const setQuery = () => {
    const p = new URLSearchParams({ site, day });
    if (area) p.set('area', area);
    ctx.setQuery(p);
  };

  let plot: uPlot | null = null;
  let seq = 0;
  async function loadHistory(): Promise<void> {
    plot?.destroy();
    plot = null;
    chartBox.replaceChildren();
    const f = figures.find((x) => x.transformer === area);
    if (!area || !f) {
      setText(chartTitle, t('ll_pick'));
      return;
    }
    setText(chartTitle, t('ll_history', { area: areaName(f) }));
    const to = Date.parse(`${day}T00:00:00+08:00`) + DAY;
    const mine = seq;
    const r = await api<{ figures: Figure[] }>(`energy/line-loss/${encodeURIComponent(site)}/${encodeURIComponent(area)}?interval=1d&from=${to - 30 * DAY}&to=${to}`).catch(() => null);
    if (!r || mine !== seq) return;
    const xs = r.figures.map((x) => x.start / 1000);
    const ys = r.figures.map((x) => x.lossPct);
    const width = Math.max(320, chartBox.clientWidth || 800);
    const limit = (v: number, stroke: string) => ({ label: `${v}%`, stroke, dash: [6, 4], width: 1, points: { show: false } });
    plot = new uPlot(
      {
        width,
        height: 240,
        series: [{}, { label: t('ll_series'), stroke: '#4fc3f7', width: 2, points: { show: true, size: 6 } }, limit(HIGH, '#ff7043'), limit(NEGATIVE, '#ffca28')],
        axes: [{ stroke: '#9fb0c0', grid: { stroke: '#243240' } }, { stroke: '#9fb0c0', grid: { stroke: '#243240' }, values: (_u, v) => v.map((x) => `${x}%`) }],
        scales: { x: { time: true } },
        // days of the server's default zone, China Standard Time, whatever the browser's
        tzDate: (sec) => uPlot.tzDate(new Date(sec * 1000), 'Etc/GMT-8'),
      },
      [xs, ys, xs.map(() => HIGH), xs.map(() => NEGATIVE)],
      chartBox,
    );
    root.dataset.chart = area;
  }

  async function loadLive(): Promise<void> {
    const r = await api<{ estimates: Array<Live & { site: string }> }>(`energy/line-loss/live?site=${encodeURIComponent(site)}`).catch(() => null);
    if (!r) return;
    live = new Map(r.estimates.map((e) => [e.transformer, e]));
    paintLive();
  }

  async function load(): Promise<void> {
    day = dayIn.value || day;
    setQuery();
    const from = Date.parse(`${day}T00:00:00+08:00`);
    csv.setAttribute('href', `./api/energy/line-loss.csv?${new URLSearchParams({ site, interval: '1d', from: String(from - 29 * DAY), to: String(from + DAY), lang: getLang() })}`);
    const mine = ++seq;
    setText(status, t('ll_loading'));
    let r: { areas: Figure[] };
    try {
      r = await api<{ areas: Figure[] }>(`energy/line-loss/rank?site=${encodeURIComponent(site)}&day=${day}`);
    } catch (e) {
      if (mine === seq) setText(status, t('ll_failed', { msg: e instanceof ApiError ? e.message : String(e) }));
      return;
    }
    if (mine !== seq) return;
    figures = r.areas;
    setText(status, figures.length ? '' : t('ll_none'));
    const complete = figures.filter((f) => f.complete);
    setText(summary, t('ll_summary', { n: figures.length, c: complete.length, h: complete.filter((f) => flag(f.lossPct) === 'high').length, neg: complete.filter((f) => flag(f.lossPct) === 'negative').length }));
    paintTable();
    root.dataset.loaded = `${site}/${day}`;
    void loadLive();
    void loadHistory();
  }

  siteSel.addEventListener('change', () => {
    site = siteSel.value;
    area = '';
    void load();
  });
  loadBtn.addEventListener('click', () => void load());
  dayIn.addEventListener('change', () => void load());

  let ticks = 0;
  return {
    root,
    filter: { devices: [] },
    start() {
      void load();
    },
    onReadings() {},
    tick() {
      // the live estimate is of the last full minute: refresh it twice a minute
      if (++ticks % 30 === 0) void loadLive();
    },
    destroy() {
      seq++;
      plot?.destroy();
    },
  };
}
