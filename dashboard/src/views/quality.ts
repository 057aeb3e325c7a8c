/**
 * Voltage qualification rate (电压合格率) of a station's monitoring points
 * for a day or a month (GET /api/quality/voltage): minutes monitored, inside,
 * above and below the GB/T 12325 limits of each point's class, its rate, and
 * the station's; worst points first; CSV export of the same table.
 * Route: #/quality[?site=<id>&day=YYYY-MM-DD | &month=YYYY-MM]
 */
import { ApiError, api } from '../api.ts';
import { el, setText } from '../dom.ts';
import { getLang, t, type MsgKey } from '../i18n.ts';
import type { View, ViewContext } from './common.ts';

interface Point {
  device: string;
  room: string;
  transformer: string;
  line: string;
  class: 'single_phase' | 'three_phase' | null;
  monitoredMin: number;
  insideMin: number;
  aboveMin: number;
  belowMin: number;
  outageMin: number;
  ratePct: number | null;
}
interface Report {
  points: Point[];
  summary: Point & { points: number; pointsMonitored: number; lowestPct: number | null; lowestDevice: string | null };
}

/** today (or this month) in China Standard Time, the server's default zone */
function localToday(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
}

function pct(v: number | null): string {
  return v === null ? '—' : `${v.toFixed(2)}%`;
}

export function qualityView(ctx: ViewContext): View {
  const sites = ctx.topo.topology.sites;
  const q = ctx.query;
  let site = q.get('site') && sites.some((s) => s.id === q.get('site')) ? q.get('site')! : (sites[0]?.id ?? '');
  let mode: 'day' | 'month' = q.has('month') ? 'month' : 'day';
  let date = q.get(mode) ?? (mode === 'day' ? localToday() : localToday().slice(0, 7));

  const siteSel = el('select', { class: 'vq-site', 'aria-label': t('vq_site') });
  for (const s of sites) siteSel.append(el('option', { value: s.id }, s.name));
  siteSel.value = site;
  const modeSeg = el('span', { class: 'seg', role: 'group' });
  const dateIn = el('input', { class: 'vq-date', 'aria-label': t('vq_date') });
  const loadBtn = el('button', { type: 'button', class: 'act vq-load' }, t('vq_load'));
  const csv = el('a', { class: 'act export-csv', download: '' }, t('exportCsv'));
  const status = el('div', { class: 'muted vq-status' });
  const summary = el('div', { class: 'vq-summary' });
  const head = el('tr');
  for (const k of ['vq_point', 'vq_place', 'vq_class', 'vq_monitored', 'vq_inside', 'vq_above', 'vq_below', 'vq_outage', 'vq_rate'] as const) head.append(el('th', {}, t(k)));
  const tbody = el('tbody');
  const table = el('table', { class: 'vq-table' }, el('thead', {}, head), tbody);
  const root = el(
    'div',
    { class: 'view quality' },
    el('h2', {}, t('vq_title')),
    el('div', { class: 'toolbar' }, el('span', { class: 'k' }, t('vq_site')), siteSel, modeSeg, dateIn, loadBtn, csv),
    status,
    summary,
    table,
  );

  const paintMode = () => {
    dateIn.type = mode === 'day' ? 'date' : 'month';
    dateIn.value = date;
    for (const b of modeSeg.querySelectorAll<HTMLElement>('button')) b.classList.toggle('on', b.dataset.mode === mode);
  };
  for (const m of ['day', 'month'] as const) {
    const b = el('button', { type: 'button', 'data-mode': m }, t(m === 'day' ? 'vq_day' : 'vq_month'));
    b.addEventListener('click', () => {
      if (mode === m) return;
      mode = m;
      date = m === 'day' ? localToday() : date.slice(0, 7);
      paintMode();
      void load();
    });
    modeSeg.append(b);
  }
  paintMode();

  const placeOf = (p: Point): string => {
    const room = ctx.topo.room(site, p.room)?.room;
    const tr = room?.transformers.find((x) => x.id === p.transformer);
    const line = tr?.lines.find((l) => l.id === p.line);
    return [room?.name ?? p.room, tr?.name ?? p.transformer, line?.name ?? p.line].filter(Boolean).join(' / ');
  };
  const minutes = (n: number) => t('vq_minutes', { n });
  const row = (p: Point, cls: string, name: string, place: string) =>
    el(
      'tr',
      { class: cls, 'data-device': p.device },
      el('td', {}, name),
      el('td', {}, place),
      el('td', {}, p.class ? t(`vq_class_${p.class}` as MsgKey) : ''),
      el('td', { class: 'num' }, p.monitoredMin ? minutes(p.monitoredMin) : t('vq_noData')),
      el('td', { class: 'num' }, minutes(p.insideMin)),
      el('td', { class: 'num' + (p.aboveMin ? ' bad' : '') }, minutes(p.aboveMin)),
      el('td', { class: 'num' + (p.belowMin ? ' bad' : '') }, minutes(p.belowMin)),
      el('td', { class: 'num', title: t('vq_outageTitle') }, minutes(p.outageMin)),
      el('td', { class: 'num rate' + (p.ratePct !== null && p.ratePct < 99 ? ' bad' : '') }, pct(p.ratePct)),
    );

  let seq = 0;
  async function load(): Promise<void> {
    date = dateIn.value || date;
    const params = new URLSearchParams({ site, [mode]: date });
    ctx.setQuery(params);
    const csvParams = new URLSearchParams(params);
    csvParams.set('lang', getLang());
    csv.setAttribute('href', `./api/quality/voltage.csv?${csvParams}`);
    const mine = ++seq;
    setText(status, t('vq_loading'));
    let r: Report;
    try {
      r = await api<Report>(`quality/voltage?${params}`);
    } catch (e) {
      if (mine === seq) setText(status, t('vq_failed', { msg: e instanceof ApiError ? e.message : String(e) }));
      return;
    }
    if (mine !== seq) return;
    setText(status, '');
    const s = r.summary;
    setText(summary, t('vq_summary', { n: s.points, m: s.pointsMonitored, rate: pct(s.ratePct), low: s.lowestDevice ? `${pct(s.lowestPct)} (${s.lowestDevice})` : '—' }));
    // worst first; points without data last
    const pts = [...r.points].sort((a, b) => (a.ratePct ?? 101) - (b.ratePct ?? 101) || a.device.localeCompare(b.device));
    tbody.replaceChildren(...pts.map((p) => row(p, p.monitoredMin ? '' : 'muted', p.device, placeOf(p))), row({ ...s, device: '' }, 'station', t('vq_station'), ''));
    root.dataset.loaded = `${site}/${date}`;
  }
  siteSel.addEventListener('change', () => {
    site = siteSel.value;
    void load();
  });
  loadBtn.addEventListener('click', () => void load());
  dateIn.addEventListener('change', () => void load());

  return {
    root,
    filter: { devices: [] },
    start() {
      void load();
    },
    onReadings() {},
    tick() {},
    destroy() {
      seq++;
    },
  };
}
