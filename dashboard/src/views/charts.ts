/**
 * Live charts: pick devices and quantities; one uPlot chart per unit (volts
 * and amperes never share an axis), a rolling window (15 min by default)
 * fed by the WebSocket, and longer windows loaded from /api/history at the
 * resolution the server picks. The choice lives in the hash, so a chart set
 * can be bookmarked: #/charts?d=m1,m2&q=ia,ib,ic&w=1h
 */
import { TimeChart, WINDOWS, seriesLabel, seriesStyle, type SeriesSpec } from '../chart.ts';
import { el } from '../dom.ts';
import { exportButton } from '../export.ts';
import { t } from '../i18n.ts';
import { LOAD_LIMIT_LINES, QUANTITY_LIST, isKnownQuantity, qinfo, type LiveReading } from '../model.ts';
import type { View, ViewContext } from './common.ts';

/** most devices listed in the picker at once; the filter box finds the rest */
const PICKER_LIMIT = 200;
const DEFAULT_QUANTITIES = ['ia', 'ib', 'ic'];

export function chartsView(ctx: ViewContext): View {
  const { live, topo } = ctx;
  const list = (k: string) => (ctx.query.get(k) ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  let devices = list('d').filter((d) => topo.device(d));
  let quantities: string[] = list('q').filter(isKnownQuantity);
  if (!devices.length) {
    // first room's meters: something live to look at on a first visit
    devices = (topo.rooms[0]?.devices ?? []).filter((d) => topo.device(d)?.kind !== 'sensor').slice(0, 3);
  }
  if (!quantities.length) quantities = [...DEFAULT_QUANTITIES];
  let windowId = WINDOWS.some((w) => w.id === ctx.query.get('w')) ? ctx.query.get('w')! : '15m';
  let charts: TimeChart[] = [];

  // ------------------------------------------------------------------ picker
  const filterBox = el('input', { type: 'search', class: 'search', placeholder: t('filterDevices'), 'aria-label': t('filterDevices') });
  const devList = el('div', { class: 'devlist' });
  const qList = el('div', { class: 'qlist' });
  const winBar = el('div', { class: 'seg windows' });
  const chartsBox = el('div', { class: 'charts' });
  const emptyMsg = el('div', { class: 'empty', hidden: '' }, t('noSeries'));
  // the chosen devices and quantities over the shown window, raw readings
  const csvBtn = exportButton(
    'history.csv',
    () => {
      if (!devices.length || !quantities.length) return null;
      const to = Date.now();
      return new URLSearchParams({ device: devices.join(','), quantity: quantities.join(','), from: String(to - windowMs()), to: String(to) });
    },
  );
  const root = el(
    'div',
    { class: 'view chartsview' },
    el('aside', { class: 'picker panel' }, el('h3', {}, t('devices')), filterBox, devList, el('h3', {}, t('quantities')), qList),
    el('div', { class: 'chart-main' }, el('div', { class: 'toolbar' }, el('span', { class: 'k' }, t('window')), winBar, el('span', { class: 'muted small hint' }, t('chartsHint')), csvBtn), emptyMsg, chartsBox),
  );

  function renderDevices(): void {
    const words = filterBox.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    devList.replaceChildren();
    let shown = 0;
    let lastRoom = '';
    // chosen devices first, so they can always be unticked
    const ordered = [...devices.map((d) => topo.device(d)!).filter(Boolean), ...topo.devices.filter((d) => !devices.includes(d.device))];
    for (const d of ordered) {
      const chosen = devices.includes(d.device);
      if (!chosen && words.length && !words.every((w) => `${d.path} ${d.device}`.toLowerCase().includes(w))) continue;
      if (!chosen && shown >= PICKER_LIMIT) break;
      const roomLabel = chosen ? '' : `${d.site.name} · ${d.room.name}`;
      if (roomLabel && roomLabel !== lastRoom) devList.append(el('div', { class: 'grp' }, roomLabel));
      if (roomLabel) lastRoom = roomLabel;
      const box = el('input', { type: 'checkbox', value: d.device });
      box.checked = chosen;
      box.addEventListener('change', () => {
        devices = box.checked ? [...devices, d.device] : devices.filter((x) => x !== d.device);
        changed();
      });
      devList.append(el('label', { class: `check${chosen ? ' on' : ''}`, title: d.path }, box, chosen ? d.path : `${d.transformer && d.kind === 'line' ? `${d.transformer.name} / ` : ''}${d.name}`));
      shown++;
    }
  }

  function renderQuantities(): void {
    qList.replaceChildren();
    const groups = new Map<string, string[]>();
    for (const q of QUANTITY_LIST) {
      const g = qinfo(q).group;
      groups.set(g, [...(groups.get(g) ?? []), q]);
    }
    for (const [g, qs] of groups) {
      const row = el('div', { class: 'qgroup' }, el('span', { class: 'k' }, t(g as Parameters<typeof t>[0])));
      for (const q of qs) {
        const box = el('input', { type: 'checkbox', value: q });
        box.checked = quantities.includes(q);
        box.addEventListener('change', () => {
          quantities = box.checked ? [...quantities, q] : quantities.filter((x) => x !== q);
          changed();
        });
        const info = qinfo(q);
        row.append(el('label', { class: `check q-${q}` }, box, info.label));
      }
      qList.append(row);
    }
  }

  for (const w of WINDOWS) {
    const b = el('button', { type: 'button', 'data-w': w.id }, t(w.label));
    b.addEventListener('click', () => {
      windowId = w.id;
      markWindow();
      save();
      for (const c of charts) void c.setWindow(w.ms);
    });
    winBar.append(b);
  }
  function markWindow(): void {
    for (const b of winBar.querySelectorAll('button')) b.classList.toggle('on', b.dataset.w === windowId);
  }

  // ------------------------------------------------------------------ charts
  function windowMs(): number {
    return WINDOWS.find((w) => w.id === windowId)!.ms;
  }

  function buildCharts(): void {
    for (const c of charts) c.destroy();
    charts = [];
    // one chart per unit, in the order the quantities are listed
    const byUnit = new Map<string, string[]>();
    for (const q of QUANTITY_LIST.filter((x) => quantities.includes(x))) {
      const key = qinfo(q).unit || q;
      byUnit.set(key, [...(byUnit.get(key) ?? []), q]);
    }
    const names = deviceNames(devices);
    for (const [, qs] of byUnit) {
      const series: SeriesSpec[] = [];
      devices.forEach((d, di) => {
        const name = names.get(d) ?? d;
        for (const q of qs) series.push({ device: d, quantity: q, label: seriesLabel(name, q, devices.length, qs.length), ...seriesStyle(q, di, series.length) });
      });
      if (!series.length) continue;
      const info = qinfo(qs[0]!);
      const title = `${[...new Set(qs.map((q) => t(qinfo(q).group)))].join(' · ')} · ${qs.map((q) => qinfo(q).label).join(' ')}`;
      charts.push(
        new TimeChart({
          title,
          unit: info.unit,
          digits: info.digits,
          series,
          windowMs: windowMs(),
          now: () => live.now(),
          zeroBased: ['A', '%', 'kW', 'kVA'].includes(info.unit),
          ...(qs.includes('load_rate') ? { limits: LOAD_LIMIT_LINES } : {}),
        }),
      );
    }
    chartsBox.replaceChildren(...charts.map((c) => c.root));
    emptyMsg.hidden = charts.length > 0;
    for (const c of charts) void c.mount();
  }

  /** Short names for the legend, made longer only where two chosen devices would read the same. */
  function deviceNames(ids: string[]): Map<string, string> {
    const levels = (id: string): string[] => {
      const d = topo.device(id);
      if (!d) return [id, id, id];
      const withTr = d.transformer && d.kind === 'line' ? `${d.transformer.name}/${d.name}` : d.name;
      return [d.name, withTr, `${d.room.name}·${withTr}`, d.path];
    };
    const out = new Map<string, string>();
    for (const id of ids) {
      const mine = levels(id);
      let level = 0;
      while (level < mine.length - 1 && ids.some((o) => o !== id && levels(o)[level] === mine[level])) level++;
      out.set(id, mine[level]!);
    }
    return out;
  }

  function save(): void {
    const q = new URLSearchParams();
    q.set('d', devices.join(','));
    q.set('q', quantities.join(','));
    q.set('w', windowId);
    ctx.setQuery(q);
  }

  let rebuild: ReturnType<typeof setTimeout> | null = null;
  function changed(): void {
    save();
    renderDevices();
    // a few clicks in a row make one rebuild
    if (rebuild) clearTimeout(rebuild);
    rebuild = setTimeout(() => {
      rebuild = null;
      ctx.setFilter({ devices });
      buildCharts();
    }, 250);
  }

  filterBox.addEventListener('input', renderDevices);
  renderDevices();
  renderQuantities();
  markWindow();

  return {
    root,
    filter: { devices },
    start() {
      save();
      buildCharts();
    },
    onReadings(readings: readonly LiveReading[], snapshot: boolean) {
      if (snapshot && live.resynced) for (const c of charts) c.resync();
      else for (const c of charts) c.push(readings);
    },
    tick() {
      for (const c of charts) c.tick();
    },
    destroy() {
      if (rebuild) clearTimeout(rebuild);
      for (const c of charts) c.destroy();
    },
  };
}
