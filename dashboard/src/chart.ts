/**
 * A time chart on uPlot: history from /api/history for the chosen window,
 * then live points from the WebSocket appended and the window rolled. Drag
 * to zoom in (history is fetched again at the resolution the range needs);
 * double-click goes back to live.
 *
 * Only good readings are drawn. A stale or comm-loss reading, or a hole
 * longer than the stale limit, is a gap in the line, never a bridge.
 *
 * One file: history fetching, live appending, zoom and gap handling act on the
 * same uPlot data arrays, whose alignment is the thing to get right.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { getHistory } from './api.ts';
import { el } from './dom.ts';
import { t, type MsgKey } from './i18n.ts';
import { PHASE_COLOURS, STALE_AFTER_MS, phaseOf, qinfo, type LiveReading } from './model.ts';

export interface SeriesSpec {
  device: string;
  quantity: string;
  label: string;
  stroke: string;
  dash?: number[];
}

export interface TimeChartOptions {
  title: string;
  unit: string;
  digits: number;
  series: SeriesSpec[];
  windowMs: number;
  /** the server's clock (Live.now) */
  now: () => number;
  height?: number;
  /** y axis starts at zero (load rate, currents) */
  zeroBased?: boolean;
  /** horizontal limit lines (e.g. heavy load 80 %, overload 100 %), drawn when in range */
  limits?: Array<{ value: number; color: string }>;
}

interface SeriesData {
  /** epoch seconds, ascending (uPlot's default time unit) */
  x: number[];
  y: Array<number | null>;
}

/** Non-phase series take these: none of them is yellow, green or red, which mean phases A, B, C. */
const PALETTE = ['#4aa3ff', '#e07bff', '#00c2b2', '#ff9f43', '#b8a4ff', '#ff6fa8', '#7fd4ff', '#d8b87a', '#9fb3c8', '#5fd38d'];
const DASHES: number[][] = [[], [8, 4], [2, 3], [10, 3, 2, 3], [4, 4], [1, 5], [12, 6], [6, 2, 2, 2], [3, 8], [16, 4]];

/**
 * Colour and dash of series `i` (quantity `q` of the `deviceIndex`-th device):
 * phase quantities keep their phase colour and tell devices apart by dash.
 */
export function seriesStyle(q: string, deviceIndex: number, i: number): { stroke: string; dash?: number[] } {
  const phase = phaseOf(q);
  if (phase) {
    const dash = DASHES[deviceIndex % DASHES.length]!;
    return dash.length ? { stroke: PHASE_COLOURS[phase], dash } : { stroke: PHASE_COLOURS[phase] };
  }
  return { stroke: PALETTE[i % PALETTE.length]! };
}

/** Windows on offer, ms. */
export const WINDOWS: Array<{ id: string; ms: number; label: MsgKey }> = [
  { id: '15m', ms: 15 * 60_000, label: 'w_15m' },
  { id: '1h', ms: 3_600_000, label: 'w_1h' },
  { id: '6h', ms: 6 * 3_600_000, label: 'w_6h' },
  { id: '1d', ms: 86_400_000, label: 'w_1d' },
  { id: '7d', ms: 7 * 86_400_000, label: 'w_7d' },
  { id: '30d', ms: 30 * 86_400_000, label: 'w_30d' },
];

/** second history load after a reconnect, when agents' spools have drained */
const RESYNC_AGAIN_MS = 15_000;
/** a chart redraws at most this often when only live points arrive */
const MIN_REDRAW_MS = 500;

export class TimeChart {
  readonly root: HTMLElement;
  private readonly plotHost: HTMLElement;
  private readonly status: HTMLElement;
  private readonly resumeBtn: HTMLButtonElement;
  private u: uPlot | null = null;
  private data: SeriesData[];
  /** series indexes by "device\0quantity" (history) and by device (live) */
  private readonly index = new Map<string, number[]>();
  private readonly byDevice = new Map<string, Array<{ q: string; i: number }>>();
  /** bucket width of what is shown, ms; 0 = raw readings */
  private stepMs = 0;
  private following = true;
  private range: [number, number] = [0, 0];
  private windowMs: number;
  private loadSeq = 0;
  private abort: AbortController | null = null;
  private dirty = false;
  private lastDraw = 0;
  private drawTimer: ReturnType<typeof setTimeout> | null = null;
  private resyncTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly resize: ResizeObserver;
  private destroyed = false;

  constructor(private readonly o: TimeChartOptions) {
    this.windowMs = o.windowMs;
    this.data = o.series.map(() => ({ x: [], y: [] }));
    o.series.forEach((s, i) => {
      const list = this.index.get(`${s.device}\u0000${s.quantity}`) ?? [];
      list.push(i);
      this.index.set(`${s.device}\u0000${s.quantity}`, list);
      const dl = this.byDevice.get(s.device) ?? [];
      dl.push({ q: s.quantity, i });
      this.byDevice.set(s.device, dl);
    });
    this.resumeBtn = el('button', { type: 'button', class: 'resume', hidden: '' }, t('resume'));
    this.resumeBtn.addEventListener('click', () => this.resume());
    this.status = el('span', { class: 'chart-status' });
    this.plotHost = el('div', { class: 'plot' });
    this.root = el(
      'section',
      { class: 'chart', 'data-unit': o.unit, 'data-state': 'loading', 'data-points': '0', 'data-series': String(o.series.length) },
      el('header', {}, el('h3', {}, o.title, o.unit ? el('small', {}, ` ${o.unit}`) : ''), this.status, this.resumeBtn),
      this.plotHost,
    );
    this.resize = new ResizeObserver(() => this.fit());
  }

  /** Creates the plot (the root must be in the document) and loads the window's history. */
  mount(): Promise<void> {
    const width = Math.max(300, this.plotHost.clientWidth);
    const axis = { stroke: '#9fb0c0', grid: { stroke: '#22303d', width: 1 }, ticks: { stroke: '#22303d', width: 1 }, font: '12px system-ui, sans-serif' };
    const digits = this.o.digits;
    const opts: uPlot.Options = {
      width,
      height: this.o.height ?? 240,
      cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      legend: { live: true },
      scales: {
        x: { time: true, range: (_u, min, max) => (this.following ? this.liveRange() : this.range[1] > this.range[0] ? this.range : [min, max]) },
        y: this.o.zeroBased ? { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } : {},
      },
      axes: [
        // at least 60 px between time ticks: "06:00:15" labels do not run into each other
        { ...axis, space: 60, values: (_u, splits, _ax, _space, incr) => timeLabels(splits, incr) },
        { ...axis, size: 56 },
      ],
      series: [
        { label: t('time'), value: (_u: uPlot, v: number | null) => (v == null ? t('latest') : fmtTime(v)) },
        ...this.o.series.map((s, i) => ({
          label: s.label,
          stroke: s.stroke,
          width: 1.5,
          ...(s.dash ? { dash: s.dash } : {}),
          spanGaps: false,
          points: { show: false },
          // joined data has holes where other series have points: show the series' own value at or
          // before the cursor, and its latest value when the cursor is off the plot
          value: (u: uPlot, v: number | null, _si: number, idx: number | null) => {
            const val = v ?? (idx == null ? this.latestOf(i) : nearestBefore(u.data[i + 1] as Array<number | null | undefined>, idx));
            return val == null ? '—' : val.toFixed(digits);
          },
        })),
      ],
      hooks: {
        draw: [(u) => this.drawLimits(u)],
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const from = u.posToVal(u.select.left, 'x') * 1000;
            const to = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            void this.zoom(from, to);
          },
        ],
      },
    };
    this.u = new uPlot(opts, this.aligned(), this.plotHost);
    this.u.over.addEventListener('dblclick', () => this.resume());
    this.resize.observe(this.plotHost);
    return this.load();
  }

  setWindow(ms: number): Promise<void> {
    this.windowMs = ms;
    this.following = true;
    return this.load();
  }

  /** Live readings (any devices; the chart takes what it shows). */
  push(readings: readonly LiveReading[]): void {
    if (!this.following || this.destroyed) return;
    let changed = false;
    for (const r of readings) {
      const mine = this.byDevice.get(r.device);
      if (!mine) continue;
      for (const { q, i } of mine) {
        const v = r.q === 'good' ? r.v[q as keyof typeof r.v] : undefined;
        changed = this.append(this.data[i]!, r.ts, v ?? null) || changed;
      }
    }
    if (changed) this.schedule();
  }

  /**
   * After a lost connection: reload the window, so readings the page missed —
   * and those agents send late from their spools — fill the hole. Spools keep
   * draining for a while after a restart, so it loads once more a little later.
   */
  resync(): void {
    if (!this.following) return;
    void this.load();
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = null;
      if (this.following) void this.load();
    }, RESYNC_AGAIN_MS);
  }

  /** Rolls the window even when nothing arrives (a dead meter's line ends where it ended). */
  tick(): void {
    if (this.following) this.schedule();
  }

  destroy(): void {
    this.destroyed = true;
    this.abort?.abort();
    this.resize.disconnect();
    if (this.drawTimer) clearTimeout(this.drawTimer);
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    this.u?.destroy();
    this.u = null;
  }

  private liveRange(): [number, number] {
    const now = this.o.now();
    return [(now - this.windowMs) / 1000, now / 1000];
  }

  /** the longest hole a line may bridge, ms */
  private gapMs(): number {
    return this.stepMs ? 2.5 * this.stepMs : STALE_AFTER_MS;
  }

  private append(d: SeriesData, tsMs: number, v: number | null): boolean {
    const x = tsMs / 1000;
    const n = d.x.length;
    const lastX = n ? d.x[n - 1]! : -Infinity;
    if (x <= lastX) return false;
    if (v === null) {
      if (n && d.y[n - 1] === null) return false;
      d.x.push(x);
      d.y.push(null);
      return true;
    }
    // bucketed window: keep about one point per bucket
    if (this.stepMs && n && d.y[n - 1] !== null && (x - lastX) * 1000 < this.stepMs) return false;
    if (n && d.y[n - 1] !== null && (x - lastX) * 1000 > this.gapMs()) {
      d.x.push((x + lastX) / 2);
      d.y.push(null);
    }
    d.x.push(x);
    d.y.push(v);
    return true;
  }

  private drawLimits(u: uPlot): void {
    const { ctx, bbox } = u;
    for (const l of this.o.limits ?? []) {
      const y = Math.round(u.valToPos(l.value, 'y', true)) + 0.5;
      if (y < bbox.top || y > bbox.top + bbox.height) continue;
      ctx.save();
      ctx.strokeStyle = l.color;
      ctx.lineWidth = Math.max(1, devicePixelRatio);
      ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
      ctx.beginPath();
      ctx.moveTo(bbox.left, y);
      ctx.lineTo(bbox.left + bbox.width, y);
      ctx.stroke();
      ctx.restore();
    }
  }

  private latestOf(i: number): number | null {
    const d = this.data[i];
    if (!d) return null;
    const n = d.y.length;
    // a trailing gap means the series is not live now: no latest value
    return n ? d.y[n - 1]! : null;
  }

  private trim(): void {
    const cut = (this.o.now() - this.windowMs - Math.max(this.stepMs, 5_000)) / 1000;
    for (const d of this.data) {
      let i = 0;
      while (i < d.x.length && d.x[i]! < cut) i++;
      // splice in chunks: shifting arrays on every point would cost more than it saves
      if (i > 64 || (i > 0 && i === d.x.length)) {
        d.x.splice(0, i);
        d.y.splice(0, i);
      }
    }
  }

  private aligned(): uPlot.AlignedData {
    if (this.data.length === 1) return [this.data[0]!.x, this.data[0]!.y];
    // union of the series' timestamps; alignment holes are `undefined` (bridged), real gaps `null`
    return uPlot.join(this.data.map((d) => [d.x, d.y] as uPlot.AlignedData));
  }

  private schedule(): void {
    this.dirty = true;
    if (this.drawTimer) return;
    const wait = Math.max(0, this.lastDraw + MIN_REDRAW_MS - performance.now());
    this.drawTimer = setTimeout(() => {
      this.drawTimer = null;
      requestAnimationFrame(() => this.draw());
    }, wait);
  }

  private draw(): void {
    if (!this.u || !this.dirty || this.destroyed) return;
    this.dirty = false;
    this.lastDraw = performance.now();
    if (this.following) this.trim();
    this.u.setData(this.aligned());
    // cursor off the plot: the legend shows each series' latest value
    if (this.u.legend.idx == null) this.u.setLegend({}, false);
    let points = 0;
    for (const d of this.data) for (const v of d.y) if (v !== null) points++;
    this.root.dataset.points = String(points);
  }

  private fit(): void {
    if (!this.u) return;
    const width = Math.max(300, this.plotHost.clientWidth);
    if (Math.abs(width - this.u.width) > 1) this.u.setSize({ width, height: this.u.height });
  }

  private resume(): void {
    if (this.following) return;
    this.following = true;
    void this.load();
  }

  private async zoom(from: number, to: number): Promise<void> {
    if (to - from < 1000) return;
    this.following = false;
    this.range = [from / 1000, to / 1000];
    await this.fetch(from, to);
  }

  private load(): Promise<void> {
    const to = this.o.now();
    return this.fetch(to - this.windowMs, to);
  }

  private async fetch(from: number, to: number): Promise<void> {
    const seq = ++this.loadSeq;
    this.root.dataset.loads = String(seq);
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    this.setStatus('loading');
    const devices = [...new Set(this.o.series.map((s) => s.device))];
    const quantities = [...new Set(this.o.series.map((s) => s.quantity))];
    try {
      // the server picks the resolution: raw up to 2 h (7,200 points at 1 Hz), ~2,000 mean buckets beyond
      const ans = await getHistory({ devices, quantities, from, to }, ac.signal);
      if (seq !== this.loadSeq || this.destroyed) return;
      this.stepMs = ans.step;
      this.data = this.o.series.map(() => ({ x: [], y: [] }));
      for (const s of ans.series) {
        for (const i of this.index.get(`${s.device}\u0000${s.quantity}`) ?? []) {
          const d = this.data[i]!;
          for (let k = 0; k < s.ts.length; k++) this.append(d, s.ts[k]!, s.values[k] ?? null);
        }
      }
      // live values that came in while the history was on its way
      this.setStatus(this.following ? 'live' : 'paused');
    } catch (e) {
      if (seq !== this.loadSeq || this.destroyed || (e as Error).name === 'AbortError') return;
      this.data = this.o.series.map(() => ({ x: [], y: [] }));
      this.setStatus('error');
    }
    this.dirty = true;
    this.lastDraw = 0;
    this.draw();
  }

  private setStatus(state: 'loading' | 'live' | 'paused' | 'error'): void {
    this.root.dataset.state = state;
    this.root.dataset.step = String(this.stepMs);
    this.resumeBtn.hidden = state !== 'paused';
    const res = this.stepMs ? `${t('step')} ${fmtStep(this.stepMs)}` : `${t('step')} ${t('raw')}`;
    this.status.textContent =
      state === 'loading' ? t('loading') : state === 'error' ? t('loadFailed') : state === 'paused' ? `${t('paused')} · ${res}` : `${t('live')} · ${res}`;
    this.status.className = `chart-status s-${state}`;
  }
}

/** The value at or just before `idx` (within a few points): series of a joined table rarely share timestamps. */
function nearestBefore(ys: Array<number | null | undefined> | undefined, idx: number): number | null {
  if (!ys) return null;
  for (let k = idx; k >= 0 && k > idx - 64; k--) {
    const y = ys[k];
    if (y === null) return null;
    if (y !== undefined) return y;
  }
  return null;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** "2026-03-05 14:03:27" (local time) */
function fmtTime(sec: number): string {
  const d = new Date(sec * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 24-hour axis labels; the date under the first label of each day ("14:00\n03-05"), dates alone for day steps. */
function timeLabels(splits: number[], incrSec: number): string[] {
  let lastDay = '';
  return splits.map((sec) => {
    if (sec == null) return '';
    const d = new Date(sec * 1000);
    const day = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    if (incrSec >= 86_400) return day;
    const time = incrSec < 60 ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    const label = day !== lastDay ? `${time}\n${day}` : time;
    lastDay = day;
    return label;
  });
}

function fmtStep(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/** Series label: quantity alone when one device, device alone when one quantity. */
export function seriesLabel(deviceName: string, q: string, devices: number, quantities: number): string {
  const ql = qinfo(q).label;
  if (devices === 1) return ql;
  if (quantities === 1) return deviceName;
  return `${deviceName} ${ql}`;
}
