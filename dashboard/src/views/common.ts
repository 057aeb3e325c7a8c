/** What every view gets, and the pieces they share: freshness badge, load bar. */
import type { Me } from '../api.ts';
import { el, setAttr, setClass, setText } from '../dom.ts';
import type { Live, LiveFilter } from '../live.ts';
import { ageText, fmt, freshLabel, freshness, goodSince, loadClass, type Freshness, type LiveReading } from '../model.ts';
import type { TopoIndex } from '../topo.ts';

export interface ViewContext {
  live: Live;
  topo: TopoIndex;
  me: Me;
  /** the route's parameters (path segments after the view name, and the query) */
  params: string[];
  query: URLSearchParams;
  /** rewrites the query of the current route without a new history entry */
  setQuery(q: URLSearchParams): void;
  /** narrows the live feed to what the view now shows */
  setFilter(f: LiveFilter | null): void;
}

export interface View {
  readonly root: HTMLElement;
  /** what the view needs from the live feed; null = everything */
  readonly filter: LiveFilter | null;
  /** after the root is in the document */
  start?(): void;
  onReadings(readings: readonly LiveReading[], snapshot: boolean): void;
  /** once a second: ages move and values go stale even when nothing arrives */
  tick(): void;
  destroy(): void;
}

export interface Fresh {
  f: Freshness;
  r: LiveReading | undefined;
}

export function freshOf(live: Live, device: string | undefined): Fresh {
  if (!device) return { f: 'none', r: undefined };
  const r = live.latest.get(device);
  return { f: freshness(r, live.now(), live.connected, live.intervalOf(device)), r };
}

/** `<span class="q q-…">通信中断</span> 35 秒前`: a value that is not live says so and how old it is. */
export function freshBadge(): HTMLElement {
  return el('span', { class: 'fresh' }, el('span', { class: 'q q-none' }), el('span', { class: 'age' }));
}

export function paintBadge(node: HTMLElement, fr: Fresh, now: number, compact = false): void {
  setAttr(node, 'data-q', fr.f);
  const badge = node.firstElementChild as HTMLElement;
  const age = node.lastElementChild as HTMLElement;
  setClass(badge, `q q-${fr.f}`);
  // a live value needs no words: a dot; anything else is spelled out
  setText(badge, fr.f === 'good' && compact ? '●' : freshLabel(fr.f));
  setText(age, fr.r && fr.f !== 'good' ? ageText(now - goodSince(fr.r)) : '');
}

/** A load-rate bar with its heavy-load (80 %) and overload (100 %) marks; the scale runs to 125 %. */
export function loadBar(): HTMLElement {
  // the 80 % and 100 % marks are drawn by CSS (.bar::after): two fewer nodes per row, thousands on the overview
  return el('div', { class: 'bar', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '125' }, el('div', { class: 'fill' }));
}

export const BAR_SCALE_PCT = 125;

export function paintBar(bar: HTMLElement, rate: number | undefined, f: Freshness): void {
  const cls = loadClass(rate);
  setClass(bar, `bar lc-${cls}${f === 'good' ? '' : ' not-live'}`);
  const fill = bar.firstElementChild as HTMLElement;
  const w = rate === undefined ? 0 : Math.min(1, Math.max(0, rate) / BAR_SCALE_PCT);
  // a transform, not a width: moving bars then cost no layout
  const transform = `scaleX(${w.toFixed(3)})`;
  if (fill.style.transform !== transform) fill.style.transform = transform;
  setAttr(bar, 'aria-valuenow', rate === undefined ? '' : rate.toFixed(1));
  setAttr(bar, 'data-class', cls);
}

export function pctText(rate: number | undefined): string {
  return rate === undefined ? '—' : `${fmt(rate, 1)}%`;
}
