/**
 * Overview: every site → room → transformer → line with its load rate as a
 * bar coloured by the heavy-load / overload limits, per-phase currents and
 * freshness; a search box, sort by load rate, "abnormal only", and the
 * counts that matter at the top. Built once; live updates touch only the
 * rows whose text changed, batched per animation frame.
 */
import { el, frameBatcher, setClass, setText } from '../dom.ts';
import { t } from '../i18n.ts';
import { fmt, isOutage, loadClass, type Freshness, type LiveReading, type Transformer } from '../model.ts';
import type { RoomInfo } from '../topo.ts';
import { alarmSummarySlot, roomAlarmBadge } from '../alarms.ts';
import { outagesSummarySlot } from '../outages/chip.ts';
import { capacitySlot, fillCapacity } from '../quality.ts';
import { freshBadge, freshOf, loadBar, paintBadge, paintBar, pctText, type View, type ViewContext } from './common.ts';

interface Row {
  device: string | undefined;
  kind: 'transformer' | 'line';
  node: HTMLElement;
  bar: HTMLElement;
  pct: HTMLElement;
  cur: [HTMLElement, HTMLElement, HTMLElement];
  fresh: HTMLElement;
  nominalV: number;
  text: string;
  card: Card;
  /** state from the latest values (kept for every row, painted only where visible) */
  rate: number | undefined;
  abnormal: boolean;
  outage: boolean;
  f: Freshness;
  /** painted since its state last changed */
  painted: boolean;
}

interface Group {
  transformer: Transformer;
  node: HTMLElement;
  head: Row;
  lines: Row[];
  text: string;
}

interface Card {
  info: RoomInfo;
  node: HTMLElement;
  body: HTMLElement;
  groups: Group[];
  text: string;
  outageBadge: HTMLElement;
  commBadge: HTMLElement;
  /** on screen (or near it): only these cards' rows are written to the DOM */
  visible: boolean;
}

const RESORT_MS = 5_000;

/**
 * What the overview shows of a reading: the load-rate bar, Ia/Ib/Ic, and the
 * phase voltages for the outage mark. Subscribed with the live hub's
 * `quantities` option, so with hundreds of meters the page is sent these
 * and not all twenty-odd quantities of every reading.
 */
export const OVERVIEW_QUANTITIES = ['load_rate', 'ia', 'ib', 'ic', 'ua', 'ub', 'uc'];
type SortMode = 'topo' | 'load';

export function overviewView(ctx: ViewContext): View {
  const { live, topo } = ctx;
  const rowsByDevice = new Map<string, Row[]>();
  const cards: Card[] = [];
  let sort: SortMode = ctx.query.get('sort') === 'load' ? 'load' : 'topo';
  let search = ctx.query.get('q') ?? '';
  let abnormalOnly = ctx.query.get('abn') === '1';
  const dirty = new Set<string>();
  let all = true;
  let lastSort = 0;

  const summary = el('div', { class: 'summary', 'aria-label': 'summary' });
  const chip = (k: string, label: string, cls = '') => {
    const v = el('b', {}, '0');
    summary.append(el('span', { class: `chip ${cls}`, 'data-k': k }, el('span', {}, label), v));
    return v;
  };
  const nTransformers = topo.rooms.reduce((n, r) => n + r.room.transformers.length, 0);
  const nLines = topo.rooms.reduce((n, r) => n + r.room.transformers.reduce((m, tr) => m + tr.lines.length, 0), 0);
  chip('rooms', t('sum_rooms')).textContent = String(topo.rooms.length);
  chip('transformers', t('sum_transformers')).textContent = String(nTransformers);
  chip('lines', t('sum_lines')).textContent = String(nLines);
  const cOver = chip('over', t('sum_over'), 'c-over');
  const cHeavy = chip('heavy', t('sum_heavy'), 'c-heavy');
  const cOutage = chip('outage', t('sum_outage'), 'c-over');
  const cComm = chip('comm_loss', t('sum_comm'), 'c-comm');
  const cStale = chip('stale', t('sum_stale'), 'c-stale');
  summary.append(alarmSummarySlot(), outagesSummarySlot());

  const searchBox = el('input', { type: 'search', class: 'search', placeholder: t('search'), 'aria-label': t('search'), value: search });
  const sortSeg = el('span', { class: 'seg sortseg', role: 'group', 'aria-label': t('sort') });
  for (const [mode, label] of [['topo', t('sortTopology')], ['load', t('sortLoad')]] as const) {
    const b = el('button', { type: 'button', 'data-sort': mode }, label);
    b.addEventListener('click', () => setSort(mode));
    sortSeg.append(b);
  }
  const markSort = () => {
    for (const b of sortSeg.querySelectorAll<HTMLElement>('button')) b.classList.toggle('on', b.dataset.sort === sort);
  };
  markSort();
  const abnBox = el('input', { type: 'checkbox', class: 'abn' });
  abnBox.checked = abnormalOnly;
  const toolbar = el('div', { class: 'toolbar' }, searchBox, el('span', { class: 'k' }, t('sort')), sortSeg, el('label', { class: 'check' }, abnBox, t('onlyAbnormal')));
  const grid = el('div', { class: 'cards' });
  const empty = el('div', { class: 'empty', hidden: '' }, topo.rooms.length ? t('noMatch') : t('noTopology'));
  const root = el('div', { class: 'view overview' }, summary, toolbar, grid, empty);

  const makeRow = (card: Card, kind: Row['kind'], name: string, sub: string, device: string | undefined, nominalV: number, text: string): Row => {
    const bar = loadBar();
    const pct = el('span', { class: 'pct' }, '—');
    const cur = [el('span', { class: 'pa' }, '—'), el('span', { class: 'pb' }, '—'), el('span', { class: 'pc' }, '—')] as [HTMLElement, HTMLElement, HTMLElement];
    const fresh = freshBadge();
    const nameCell = el('span', { class: 'name', title: device ?? '' }, name, sub ? el('small', {}, sub) : '');
    const node = el('div', { class: `lrow ${kind === 'transformer' ? 't' : 'l'} q-none`, ...(device ? { 'data-device': device } : {}) }, nameCell, bar, pct, el('span', { class: 'cur' }, ...cur), fresh);
    const row: Row = { device, kind, node, bar, pct, cur, fresh, nominalV, text: text.toLowerCase(), card, rate: undefined, abnormal: false, outage: false, f: 'none', painted: false };
    if (device) {
      const list = rowsByDevice.get(device) ?? [];
      list.push(row);
      rowsByDevice.set(device, list);
    } else {
      setText(fresh.firstElementChild!, t('noMeter'));
      setClass(fresh.firstElementChild!, 'q q-nometer');
    }
    return row;
  };

  for (const info of topo.rooms) {
    const { site, room } = info;
    const href = `#/room/${encodeURIComponent(site.id)}/${encodeURIComponent(room.id)}`;
    const outageBadge = el('span', { class: 'badge b-outage', hidden: '' });
    const commBadge = el('span', { class: 'badge b-comm', hidden: '' });
    const body = el('div', { class: 'card-body' });
    const colHead = el(
      'div',
      { class: 'lrow hdr', 'aria-hidden': 'true' },
      el('span'),
      el('span', {}, t('loadRate')),
      el('span'),
      el('span', { class: 'cur' }, el('span', { class: 'pa' }, 'Ia'), el('span', { class: 'pb' }, 'Ib'), el('span', { class: 'pc' }, 'Ic A')),
      el('span', { class: 'st' }, t('state')),
    );
    const node = el(
      'article',
      { class: 'room-card', 'data-room': info.key },
      el('header', {}, el('a', { href, class: 'room-name' }, room.name), el('span', { class: 'site-name' }, site.name), outageBadge, commBadge, roomAlarmBadge(site.id, room.id), el('a', { href, class: 'consult' }, t('consult'))),
      colHead,
      body,
    );
    const card: Card = { info, node, body, groups: [], text: `${site.id} ${site.name} ${room.id} ${room.name}`.toLowerCase(), outageBadge, commBadge, visible: false };
    for (const tr of room.transformers) {
      const gnode = el('div', { class: 'tgroup', 'data-transformer': tr.id });
      const head = makeRow(card, 'transformer', tr.name, `${tr.ratedKva} kVA`, tr.meter, tr.nominalV, `${tr.id} ${tr.name} ${tr.meter ?? ''}`);
      const g: Group = { transformer: tr, node: gnode, head, lines: [], text: head.text };
      head.node.firstElementChild?.append(capacitySlot(site.id, room.id, tr.id, true));
      gnode.append(head.node);
      for (const line of tr.lines) {
        const r = makeRow(card, 'line', line.name, line.ratedCurrentA ? `${line.ratedCurrentA} A` : t('noRating'), line.meter, tr.nominalV, `${line.id} ${line.name} ${line.meter ?? ''}`);
        g.lines.push(r);
        gnode.append(r.node);
      }
      card.groups.push(g);
      body.append(gnode);
    }
    if (!room.transformers.length) body.append(el('div', { class: 'muted small' }, '—'));
    cards.push(card);
    grid.append(node);
  }

  /** Updates a row's state from the latest values; true when what it shows may have changed. */
  function evalRow(row: Row, changed: boolean): boolean {
    const fr = freshOf(live, row.device);
    const rate = fr.r?.v.load_rate;
    const outage = isOutage(fr.r, row.nominalV);
    const lc = loadClass(rate);
    // a row that is not live shows its age, which moves every second
    const moved = changed || fr.f !== row.f || fr.f !== 'good' || outage !== row.outage;
    row.rate = rate;
    row.outage = outage;
    row.f = fr.f;
    row.abnormal = !!row.device && (lc === 'over' || lc === 'heavy' || outage || fr.f === 'stale' || fr.f === 'comm_loss' || fr.f === 'none');
    if (moved) row.painted = false;
    return moved;
  }

  function paintRow(row: Row, now: number): void {
    row.painted = true;
    const fr = freshOf(live, row.device);
    const r = fr.r;
    const lc = loadClass(row.rate);
    setClass(row.node, `lrow ${row.kind === 'transformer' ? 't' : 'l'} q-${fr.f} lc-${lc}${row.outage ? ' outage' : ''}`);
    paintBar(row.bar, row.rate, fr.f);
    setText(row.pct, row.outage ? t('outage') : pctText(row.rate));
    setText(row.cur[0], fmt(r?.v.ia, 0));
    setText(row.cur[1], fmt(r?.v.ib, 0));
    setText(row.cur[2], fmt(r?.v.ic, 0));
    if (row.device) paintBadge(row.fresh, fr, now, true);
  }

  function paintSummary(): void {
    let over = 0, heavy = 0, outage = 0, comm = 0, stale = 0;
    for (const card of cards) {
      let cOut = 0, cComm = 0;
      for (const g of card.groups) {
        for (const row of [g.head, ...g.lines]) {
          if (!row.device) continue;
          const lc = loadClass(row.rate);
          if (lc === 'over') over++;
          else if (lc === 'heavy') heavy++;
          if (row.outage) cOut++;
          if (row.f === 'comm_loss') cComm++;
          else if (row.f === 'stale') stale++;
        }
      }
      outage += cOut;
      comm += cComm;
      card.outageBadge.hidden = cOut === 0;
      setText(card.outageBadge, `${t('outage')} ${cOut}`);
      card.commBadge.hidden = cComm === 0;
      setText(card.commBadge, `${t('q_comm_loss')} ${cComm}`);
    }
    setText(cOver, String(over));
    setText(cHeavy, String(heavy));
    setText(cOutage, String(outage));
    setText(cComm, String(comm));
    setText(cStale, String(stale));
    for (const [k, n] of [[cOver, over], [cHeavy, heavy], [cOutage, outage], [cComm, comm], [cStale, stale]] as const)
      k.parentElement!.classList.toggle('zero', n === 0);
  }

  const paint = frameBatcher(() => {
    const now = live.now();
    // every row's state is kept current (cheap, no DOM) for the counts, the filter and the sort;
    // only rows of cards on screen are written to the DOM — the others when they scroll into view
    if (all) {
      for (const list of rowsByDevice.values()) for (const row of list) evalRow(row, true);
    } else {
      for (const d of dirty) for (const row of rowsByDevice.get(d) ?? []) evalRow(row, true);
    }
    all = false;
    dirty.clear();
    for (const card of cards) if (card.visible) paintCard(card, now);
    paintSummary();
    if (abnormalOnly) applyFilter();
    if (sort === 'load' && performance.now() - lastSort > RESORT_MS) applySort();
  });

  function paintCard(card: Card, now: number): void {
    for (const g of card.groups) {
      if (g.head.device && !g.head.painted) paintRow(g.head, now);
      for (const row of g.lines) if (row.device && !row.painted) paintRow(row, now);
    }
  }

  /** Ages move and good values go stale without any message: re-evaluate every row once a second. */
  function tickRows(): void {
    for (const list of rowsByDevice.values()) for (const row of list) evalRow(row, false);
    paint.request();
  }

  const visibility = new IntersectionObserver(
    (entries) => {
      const now = live.now();
      for (const e of entries) {
        const card = cardOf.get(e.target);
        if (!card) continue;
        card.visible = e.isIntersecting;
        if (card.visible) paintCard(card, now);
      }
    },
    { rootMargin: '300px 0px' },
  );
  const cardOf = new Map<Element, Card>(cards.map((c) => [c.node, c]));
  for (const card of cards) visibility.observe(card.node);

  // ---------------------------------------------------------------- search, filter, sort
  function applyFilter(): void {
    const words = search.toLowerCase().split(/\s+/).filter(Boolean);
    const hit = (text: string) => words.every((w) => text.includes(w));
    let shown = 0;
    for (const card of cards) {
      const cardHit = words.length === 0 || hit(card.text);
      let any = false;
      for (const g of card.groups) {
        const gHit = cardHit || hit(`${card.text} ${g.text}`);
        let gAny = false;
        for (const row of g.lines) {
          const ok = (gHit || hit(`${card.text} ${g.text} ${row.text}`)) && (!abnormalOnly || row.abnormal);
          row.node.hidden = !ok;
          gAny ||= ok;
        }
        const headOk = (gHit || gAny) && (!abnormalOnly || g.head.abnormal || gAny);
        g.node.hidden = !headOk;
        any ||= headOk;
      }
      const show = any || (cardHit && !abnormalOnly && card.groups.length === 0);
      card.node.hidden = !show;
      if (show) shown++;
    }
    empty.hidden = shown > 0;
  }

  const maxRate = (rows: Row[]) => rows.reduce((m, r) => (r.rate !== undefined && r.rate > m ? r.rate : m), -1);
  function applySort(): void {
    lastSort = performance.now();
    const order = (a: { k: number; i: number }, b: { k: number; i: number }) => (sort === 'load' ? b.k - a.k || a.i - b.i : a.i - b.i);
    const sortedCards = cards.map((c, i) => ({ c, i, k: maxRate(c.groups.flatMap((g) => [g.head, ...g.lines])) })).sort(order);
    reorder(grid, sortedCards.map((x) => x.c.node));
    for (const card of cards) {
      const groups = card.groups.map((g, i) => ({ g, i, k: maxRate([g.head, ...g.lines]) })).sort(order);
      reorder(card.body, groups.map((x) => x.g.node));
      for (const g of card.groups) {
        const lines = g.lines.map((r, i) => ({ r, i, k: r.rate ?? -1 })).sort(order);
        reorder(g.node, [g.head.node, ...lines.map((x) => x.r.node)]);
      }
    }
  }

  function saveQuery(): void {
    const q = new URLSearchParams();
    if (search) q.set('q', search);
    if (sort === 'load') q.set('sort', 'load');
    if (abnormalOnly) q.set('abn', '1');
    ctx.setQuery(q);
  }

  searchBox.addEventListener('input', () => {
    search = searchBox.value.trim();
    applyFilter();
    saveQuery();
  });
  function setSort(mode: SortMode): void {
    sort = mode;
    markSort();
    applySort();
    saveQuery();
  }
  abnBox.addEventListener('change', () => {
    abnormalOnly = abnBox.checked;
    applyFilter();
    saveQuery();
  });

  return {
    root,
    filter: { quantities: OVERVIEW_QUANTITIES },
    start() {
      all = true;
      paint.request();
      for (const s of topo.topology.sites) void fillCapacity(grid, s.id);
      applyFilter();
      if (sort === 'load') lastSort = 0;
    },
    onReadings(readings: readonly LiveReading[], snapshot: boolean) {
      if (snapshot) all = true;
      else for (const r of readings) dirty.add(r.device);
      paint.request();
    },
    tick() {
      tickRows();
    },
    destroy() {
      paint.cancel();
      visibility.disconnect();
    },
  };
}

/** Puts `nodes` in this order under `parent`, moving only what is out of place. */
function reorder(parent: HTMLElement, nodes: HTMLElement[]): void {
  let cur = parent.firstElementChild;
  for (const n of nodes) {
    if (cur === n) {
      cur = cur.nextElementSibling;
      continue;
    }
    parent.insertBefore(n, cur);
  }
}
