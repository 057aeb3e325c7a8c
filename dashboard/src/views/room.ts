/**
 * Distribution-room view (远程会诊, remote consultation): one room at a
 * glance for an inspector on the phone with the site electrician — each
 * transformer's load rate, phase values and temperatures; every outgoing
 * line's load rate, per-phase current and voltage; the room sensors; and the
 * last hours as charts on demand.
 */
import { roomAlarmSlot } from '../alarms.ts';
import { TimeChart, seriesStyle } from '../chart.ts';
import { el, frameBatcher, setClass, setText } from '../dom.ts';
import { t, type MsgKey } from '../i18n.ts';
import { LOAD_LIMIT_LINES, fmt, isOutage, loadClass, qinfo, type LiveReading, type Quantity, type Transformer } from '../model.ts';
import { freshBadge, freshOf, loadBar, paintBadge, paintBar, pctText, type View, type ViewContext } from './common.ts';
import { capacitySlot, fillCapacity, healthBadge, watchHealth } from '../quality.ts';

/** a value cell bound to one quantity of one device */
interface Cell {
  device: string | undefined;
  q: Quantity;
  node: HTMLElement;
}

/** something to repaint from one device: its freshness badge, bar, greyed container */
interface Bound {
  device: string | undefined;
  container: HTMLElement;
  /** the container's own classes; freshness and load classes are added to them */
  base: string;
  badge: HTMLElement | null;
  bar: HTMLElement | null;
  pct: HTMLElement | null;
  nominalV: number;
}

const HISTORY_WINDOWS: Array<{ h: number }> = [{ h: 1 }, { h: 4 }, { h: 12 }, { h: 24 }];
const SENSOR_STATES: Quantity[] = ['door', 'water', 'smoke'];
const SENSOR_VALUES: Quantity[] = ['temp', 'humidity', 't_oil', 't_winding'];

export function roomView(ctx: ViewContext): View {
  const { live, topo } = ctx;
  const [siteId = '', roomId = ''] = ctx.params;
  const info = topo.room(siteId, roomId);
  if (!info) {
    const root = el('div', { class: 'view room missing' }, el('div', { class: 'empty' }, t('roomNotFound'), el('br'), el('a', { href: '#/overview' }, `‹ ${t('nav_overview')}`)));
    return { root, filter: { devices: [] }, onReadings() {}, tick() {}, destroy() {} };
  }
  const { site, room } = info;
  const cells: Cell[] = [];
  const sensorTiles: Array<{ device: string; q: Quantity; tile: HTMLElement; waiting: HTMLElement }> = [];
  const bound: Bound[] = [];
  const cell = (device: string | undefined, q: Quantity, cls = '') => {
    const node = el('span', { class: `v ${cls}`, 'data-q': q }, '—');
    cells.push({ device, q, node });
    return node;
  };

  // ------------------------------------------------------------------ transformers
  /** temperatures may come from the transformer meter or from a room sensor that measures them */
  const tempSource = (tr: Transformer, q: Quantity): string | undefined => {
    for (const d of [tr.meter, ...room.sensors]) if (d && live.latest.get(d)?.v[q] !== undefined) return d;
    return tr.meter;
  };

  const trPanels = room.transformers.map((tr) => {
    const bar = loadBar();
    const pct = el('span', { class: 'pct big' }, '—');
    const badge = freshBadge();
    const kv = (label: string, ...nodes: Node[]) => el('div', { class: 'kv' }, el('span', { class: 'k' }, label), el('span', { class: 'vals' }, ...nodes));
    const tOil = el('span', { class: 'v', 'data-q': 't_oil' }, '—');
    const tWind = el('span', { class: 'v', 'data-q': 't_winding' }, '—');
    const panel = el(
      'section',
      { class: 'panel tr-panel', 'data-transformer': tr.id, ...(tr.meter ? { 'data-device': tr.meter } : {}) },
      el('h3', {}, tr.name, el('small', {}, `${tr.ratedKva} kVA${tr.meter ? ` · ${tr.meter}` : ''}`), healthBadge(tr.meter), badge),
      el('div', { class: 'kv cap-row' }, el('span', { class: 'k' }, t('cap_available')), capacitySlot(site.id, room.id, tr.id)),
      el('div', { class: 'gauge' }, el('span', { class: 'k' }, t('loadRate')), bar, pct),
      el(
        'div',
        { class: 'kvs' },
        kv('U V', cell(tr.meter, 'ua', 'pa'), cell(tr.meter, 'ub', 'pb'), cell(tr.meter, 'uc', 'pc')),
        kv('I A', cell(tr.meter, 'ia', 'pa'), cell(tr.meter, 'ib', 'pb'), cell(tr.meter, 'ic', 'pc'), cell(tr.meter, 'in', 'pn')),
        kv('P kW · Q kvar · S kVA', cell(tr.meter, 'p'), cell(tr.meter, 'q'), cell(tr.meter, 's')),
        kv('PF · f Hz', cell(tr.meter, 'pf'), cell(tr.meter, 'f')),
        kv(`${t('unbalance')} U% · I%`, cell(tr.meter, 'u_unbalance'), cell(tr.meter, 'i_unbalance')),
        kv(`${t('t_oil')} · ${t('t_winding')} °C`, tOil, tWind),
      ),
    );
    bound.push({ device: tr.meter, container: panel, base: 'panel tr-panel', badge, bar, pct, nominalV: tr.nominalV });
    return { tr, panel, tOil, tWind };
  });

  // ------------------------------------------------------------------ sensors
  const sensorPanel = el('section', { class: 'panel sensors' }, el('h3', {}, t('sensors')));
  if (!room.sensors.length) {
    sensorPanel.append(el('div', { class: 'no-sensors' }, t('noSensors')));
  } else {
    for (const s of room.sensors) {
      const badge = freshBadge();
      // a sensor shows what it reports: a door contact its door, a thermometer its temperature and humidity.
      // Tiles appear with the first value of their quantity and stay (the device has it); until any value came, a note says so
      const waiting = el('div', { class: 'muted sensor-waiting' }, t('sensorWaiting'));
      const tiles = el('div', { class: 'tiles' }, waiting);
      const tile = (q: Quantity, label: string, cls = '') => {
        const node = el('div', { class: 'tile', 'data-q': q }, el('span', { class: 'k' }, label), cell(s, q, cls));
        node.hidden = true;
        sensorTiles.push({ device: s, q, tile: node, waiting });
        return node;
      };
      for (const q of SENSOR_STATES) tiles.append(tile(q, t(q as MsgKey), 'state'));
      for (const q of SENSOR_VALUES) tiles.append(tile(q, `${t(q as MsgKey)} ${qinfo(q).unit}`));
      const box = el('div', { class: 'sensor', 'data-device': s }, el('div', { class: 'sensor-head' }, el('span', {}, s), badge), tiles);
      bound.push({ device: s, container: box, base: 'sensor', badge, bar: null, pct: null, nominalV: 220 });
      sensorPanel.append(box);
    }
  }

  // ------------------------------------------------------------------ lines
  const linesTable = el('table', { class: 'lines' });
  const head = el('tr', {}, el('th', {}, t('line')), el('th', { class: 'barcol' }, t('loadRate')), el('th', {}, '%'));
  for (const q of ['ia', 'ib', 'ic', 'ua', 'ub', 'uc'] as const) head.append(el('th', { class: `p${q.slice(1)}` }, `${qinfo(q).label} ${qinfo(q).unit}`));
  head.append(el('th', {}, 'P kW'), el('th', {}, 'PF'), el('th', {}, t('state')));
  linesTable.append(el('thead', {}, head));
  const tbody = el('tbody');
  linesTable.append(tbody);
  let nLines = 0;
  for (const tr of room.transformers) {
    if (room.transformers.length > 1) tbody.append(el('tr', { class: 'group' }, el('td', { colspan: '12' }, tr.name)));
    for (const line of tr.lines) {
      nLines++;
      const bar = loadBar();
      const pct = el('span', { class: 'pct' }, '—');
      const badge = freshBadge();
      const row = el(
        'tr',
        { class: 'q-none', ...(line.meter ? { 'data-device': line.meter } : {}), 'data-line': line.id },
        el('td', { class: 'name' }, line.name, el('small', {}, line.ratedCurrentA ? `${line.ratedCurrentA} A` : t('noRating')), healthBadge(line.meter)),
        el('td', { class: 'barcol' }, bar),
        el('td', {}, pct),
      );
      for (const q of ['ia', 'ib', 'ic', 'ua', 'ub', 'uc'] as const) row.append(el('td', {}, cell(line.meter, q, `p${q.slice(1)}`)));
      row.append(el('td', {}, cell(line.meter, 'p')), el('td', {}, cell(line.meter, 'pf')), el('td', {}, badge));
      if (!line.meter) {
        setText(badge.firstElementChild!, t('noMeter'));
        setClass(badge.firstElementChild!, 'q q-nometer');
      }
      bound.push({ device: line.meter, container: row, base: '', badge: line.meter ? badge : null, bar, pct, nominalV: tr.nominalV });
      tbody.append(row);
    }
  }
  const linesPanel = el('section', { class: 'panel lines-panel' }, el('h3', {}, t('lines'), el('small', {}, String(nLines))), nLines ? linesTable : el('div', { class: 'muted' }, '—'));

  // ------------------------------------------------------------------ history on demand
  const histButtons = el('div', { class: 'seg' });
  const histCharts = el('div', { class: 'charts' });
  const histPanel = el('section', { class: 'panel history' }, el('h3', {}, t('lastHours'), histButtons), histCharts);
  let charts: TimeChart[] = [];
  const hideBtn = el('button', { type: 'button', 'data-h': '0', hidden: '' }, t('hide'));
  for (const w of HISTORY_WINDOWS) {
    const b = el('button', { type: 'button', 'data-h': String(w.h) }, t('nHours', { n: w.h }));
    b.addEventListener('click', () => openHistory(w.h));
    histButtons.append(b);
  }
  hideBtn.addEventListener('click', () => openHistory(null));
  histButtons.append(hideBtn);

  function openHistory(h: number | null): void {
    for (const b of histButtons.querySelectorAll('button')) b.classList.toggle('on', b.dataset.h === String(h));
    hideBtn.hidden = h === null;
    const q = new URLSearchParams(ctx.query);
    if (h) q.set('h', String(h));
    else q.delete('h');
    ctx.setQuery(q);
    if (h === null) {
      for (const c of charts) c.destroy();
      charts = [];
      histCharts.replaceChildren();
      return;
    }
    if (charts.length) {
      for (const c of charts) void c.setWindow(h * 3_600_000);
      return;
    }
    const lineMeters = room.transformers.flatMap((tr) => tr.lines.filter((l) => l.meter).map((l) => ({ device: l.meter!, name: l.name })));
    const trMeters = room.transformers.filter((tr) => tr.meter).map((tr) => ({ device: tr.meter!, name: tr.name }));
    const specs: Array<ConstructorParameters<typeof TimeChart>[0]> = [];
    const loadSeries = [...trMeters, ...lineMeters];
    if (loadSeries.length)
      specs.push({
        title: `${t('loadRate')}`, unit: '%', digits: 1, zeroBased: true, limits: LOAD_LIMIT_LINES, windowMs: h * 3_600_000, now: () => live.now(),
        series: loadSeries.map((d, i) => ({ device: d.device, quantity: 'load_rate', label: d.name, ...seriesStyle('load_rate', 0, i) })),
      });
    for (const tm of trMeters) {
      specs.push({
        title: `${tm.name} ${t('g_current')}`, unit: 'A', digits: 1, zeroBased: true, windowMs: h * 3_600_000, now: () => live.now(),
        series: (['ia', 'ib', 'ic'] as const).map((q) => ({ device: tm.device, quantity: q, label: qinfo(q).label, ...seriesStyle(q, 0, 0) })),
      });
      specs.push({
        title: `${tm.name} ${t('g_voltage')}`, unit: 'V', digits: 1, windowMs: h * 3_600_000, now: () => live.now(),
        series: (['ua', 'ub', 'uc'] as const).map((q) => ({ device: tm.device, quantity: q, label: qinfo(q).label, ...seriesStyle(q, 0, 0) })),
      });
    }
    charts = specs.map((s) => new TimeChart({ ...s, height: 220 }));
    histCharts.replaceChildren(...charts.map((c) => c.root));
    for (const c of charts) void c.mount();
  }

  const back = el('a', { href: '#/overview', class: 'back' }, `‹ ${t('nav_overview')}`);
  const outage = el('span', { class: 'badge b-outage', hidden: '' }, t('outage'));
  const root = el(
    'div',
    { class: 'view room', 'data-room': info.key },
    el('div', { class: 'room-head' }, back, el('h2', {}, room.name), el('span', { class: 'site-name' }, site.name), room.agent ? el('span', { class: 'muted' }, `${t('agent')} ${room.agent}`) : '', outage, roomAlarmSlot(site.id, room.id, ctx.me.role)),
    el('div', { class: 'room-top' }, el('div', { class: 'tr-panels' }, ...trPanels.map((p) => p.panel)), sensorPanel),
    linesPanel,
    histPanel,
  );

  // ------------------------------------------------------------------ painting
  function paintAll(): void {
    const now = live.now();
    let anyOutage = false;
    for (const b of bound) {
      const fr = freshOf(live, b.device);
      const out = isOutage(fr.r, b.nominalV);
      anyOutage ||= out;
      const rate = fr.r?.v.load_rate;
      setClass(b.container, `${b.base} q-${fr.f} lc-${loadClass(rate)}${out ? ' outage' : ''}`.trim());
      if (b.bar) paintBar(b.bar, rate, fr.f);
      if (b.pct) setText(b.pct, out ? t('outage') : pctText(rate));
      if (b.badge && b.device) paintBadge(b.badge, fr, now);
    }
    for (const c of cells) {
      const v = c.device ? live.latest.get(c.device)?.v[c.q] : undefined;
      if (c.q === 'door') setText(c.node, v === undefined ? '—' : t(v ? 'door_1' : 'door_0'));
      else if (c.q === 'water' || c.q === 'smoke') setText(c.node, v === undefined ? '—' : t(v ? 'alarm_1' : 'alarm_0'));
      else setText(c.node, fmt(v, qinfo(c.q).digits));
      if (SENSOR_STATES.includes(c.q)) c.node.classList.toggle('on', !!v);
    }
    for (const st of sensorTiles) {
      if (st.tile.hidden && live.latest.get(st.device)?.v[st.q] !== undefined) {
        st.tile.hidden = false;
        st.waiting.hidden = true;
      }
    }
    for (const p of trPanels) {
      for (const [node, q] of [[p.tOil, 't_oil'], [p.tWind, 't_winding']] as const) {
        const src = tempSource(p.tr, q);
        const r = src ? live.latest.get(src) : undefined;
        const v = r?.v[q];
        setText(node, v === undefined ? t('noPoint') : fmt(v, 1));
        const fr = freshOf(live, src);
        setClass(node, `v${v === undefined ? ' muted' : ''}${fr.f === 'good' ? '' : ' not-live'}`);
      }
    }
    outage.hidden = !anyOutage;
  }
  const paint = frameBatcher(paintAll);

  const devices = info.devices;
  let unwatchHealth: (() => void) | null = null;
  return {
    root,
    filter: { devices },
    start() {
      paint.request();
      unwatchHealth = watchHealth(root);
      void fillCapacity(root, site.id);
      const h = Number(ctx.query.get('h'));
      if (HISTORY_WINDOWS.some((w) => w.h === h)) openHistory(h);
    },
    onReadings(readings: readonly LiveReading[], snapshot: boolean) {
      if (snapshot && live.resynced) for (const c of charts) c.resync();
      else for (const c of charts) c.push(readings);
      paint.request();
    },
    tick() {
      paint.request();
      for (const c of charts) c.tick();
    },
    destroy() {
      paint.cancel();
      unwatchHealth?.();
      for (const c of charts) c.destroy();
    },
  };
}
