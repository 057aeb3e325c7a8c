/**
 * Alarm console and one-key call (一键呼叫), wired to the server's alarms API
 * (server/alarms/routes.ts) and its WebSocket frames:
 *   - `{ type: 'alarms', seq, alarms, missed }` answers our `{ type: 'alarms', since }`
 *     (sent on every (re)connect): the whole current set → resync;
 *   - `{ type: 'alarm', seq, transition, alarm }` pushed, never conflated: applied
 *     in seq order; a gap (seq > last + 1) asks for the set again.
 * A one-key call is an alarm of rule `call` whose source is the site.
 * Actions (acknowledge, shelve, unshelve, comment) are offered to operators
 * and admins only; viewers get no buttons.
 */
import { api } from './api.ts';
import { el, setText } from './dom.ts';
import { exportButton } from './export.ts';
import { getLang, t } from './i18n.ts';
import type { Role } from './api.ts';

export type AlarmState = 'normal' | 'unack_active' | 'ack_active' | 'unack_rtn' | 'shelved' | 'suppressed' | 'out_of_service';
export interface AlarmView {
  alarmId: string;
  ruleId: string;
  source: string;
  state: AlarmState;
  active: boolean;
  activeSince: number | null;
  severity: 1 | 2 | 3 | 4;
  severityName: string;
  level: string | null;
  message: string | null;
  detail: Record<string, unknown> | null;
  since: number;
  updatedAt: number;
  shelf: { by: string; reason: string; at: number; until: number } | null;
  ruleName: string | null;
  site: string;
  room: string;
  transformer: string;
  line: string;
  acknowledged: { by: string; at: number; comment?: string } | null;
  outOfService?: { by: string; reason: string; at: number } | null;
}
export interface AlarmEvent {
  seq?: number;
  kind?: string;
  at: number;
  from?: AlarmState;
  to?: AlarmState;
  reason?: string;
  by?: string;
  comment?: string;
  until?: number;
}

const L = (zh: string, en: string): string => (getLang() === 'zh' ? zh : en);
const SEV_ZH = ['', '紧急', '重要', '次要', '提示'];
const SEV_EN = ['', 'critical', 'high', 'medium', 'low'];
export const sevText = (s: number): string => (getLang() === 'zh' ? SEV_ZH[s] : SEV_EN[s]) ?? String(s);
const STATE_ZH: Record<AlarmState, string> = { normal: '正常', unack_active: '未确认', ack_active: '已确认', unack_rtn: '已恢复未确认', shelved: '已搁置', suppressed: '已抑制', out_of_service: '停用' };
const STATE_EN: Record<AlarmState, string> = { normal: 'normal', unack_active: 'unacknowledged', ack_active: 'acknowledged', unack_rtn: 'cleared, unack.', shelved: 'shelved', suppressed: 'suppressed', out_of_service: 'out of service' };
export const stateText = (s: AlarmState): string => (getLang() === 'zh' ? STATE_ZH[s] : STATE_EN[s]) ?? s;
const ACTIVE_STATES: ReadonlySet<AlarmState> = new Set(['unack_active', 'ack_active', 'unack_rtn']);
const unacked = (a: AlarmView) => a.state === 'unack_active' || a.state === 'unack_rtn';
export const isCall = (a: AlarmView): boolean => a.ruleId === 'call';

function timeText(ms: number | null | undefined): string {
  if (!ms) return '—';
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return d.toLocaleString(getLang() === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false, ...(today ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : {}) });
}

/** active first, then most severe, then newest */
export function sortAlarms(list: AlarmView[]): AlarmView[] {
  const rank = (a: AlarmView) => (ACTIVE_STATES.has(a.state) ? 0 : 1);
  return list.sort((a, b) => rank(a) - rank(b) || a.severity - b.severity || b.since - a.since);
}

// ---------------------------------------------------------------- the store

type Sender = (frame: object) => void;

/**
 * Whether frames were missed before this one. The server stamps each copy
 * with `prevSeq`, the seq of the alarm frame this connection got before
 * (server/live-hub.ts pushAlarm): a client narrowed to some sites sees seq
 * jump over other sites' frames without having missed any. Without
 * `prevSeq` (an older server) every seq is sent, so a jump is a gap.
 */
function missedBefore(f: Record<string, unknown>, applied: number): boolean {
  const seq = f.seq as number;
  const prev = typeof f.prevSeq === 'number' ? f.prevSeq : seq - 1;
  return prev > applied;
}

export class AlarmStore {
  readonly alarms = new Map<string, AlarmView>();
  seq = 0;
  /** a full set has arrived since the last (re)connect */
  synced = false;
  private send: Sender | null = null;
  private readonly listeners = new Set<() => void>();
  /** unacknowledged high-severity alarms already announced (alarmId@since) */
  private readonly announced = new Set<string>();
  private audio: AudioContext | null = null;
  beeps = 0;

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Called on each WebSocket open: ask for the current set (and what was missed). */
  connected(send: Sender): void {
    this.send = send;
    this.synced = false;
    send({ type: 'alarms', ...(this.seq ? { since: this.seq } : {}) });
  }

  /** Handles an alarm frame; false for frames that are not about alarms. */
  frame(f: { type: string } & Record<string, unknown>): boolean {
    if (f.type === 'alarms') {
      const seq = f.seq as number;
      this.alarms.clear();
      for (const a of f.alarms as AlarmView[]) this.alarms.set(a.alarmId, a);
      this.seq = seq;
      this.synced = true;
      this.changed(false);
      return true;
    }
    if (f.type === 'alarm') {
      const seq = f.seq as number;
      if (!this.synced || seq <= this.seq) return true; // the pending set already holds it
      if (missedBefore(f, this.seq)) {
        // a gap: take the whole set again rather than show a wrong one
        this.synced = false;
        this.send?.({ type: 'alarms', since: this.seq });
        return true;
      }
      this.seq = seq;
      const a = f.alarm as AlarmView;
      if (a.state === 'normal') this.alarms.delete(a.alarmId);
      else this.alarms.set(a.alarmId, a);
      this.changed(true);
      return true;
    }
    if (f.type === 'alarm_escalation' || f.type === 'alarm_rules') {
      const seq = f.seq as number;
      if (!this.synced || seq <= this.seq) return true;
      if (!missedBefore(f, this.seq)) this.seq = seq;
      else {
        this.synced = false;
        this.send?.({ type: 'alarms', since: this.seq });
      }
      return true;
    }
    return false;
  }

  list(): AlarmView[] {
    return sortAlarms([...this.alarms.values()]);
  }

  /** counts of the standing alarms by severity (1..4), shelved etc. not included */
  counts(pred: (a: AlarmView) => boolean = () => true): number[] {
    const c = [0, 0, 0, 0, 0];
    for (const a of this.alarms.values()) if (ACTIVE_STATES.has(a.state) && pred(a)) c[a.severity]!++;
    return c;
  }

  unackedHigh(): number {
    let n = 0;
    for (const a of this.alarms.values()) if (unacked(a) && a.severity <= 2) n++;
    return n;
  }

  /** an alarm as an action's answer shows it */
  put(a: AlarmView): void {
    if (a.state === 'normal') this.alarms.delete(a.alarmId);
    else this.alarms.set(a.alarmId, a);
    this.changed(false);
  }

  reset(): void {
    this.alarms.clear();
    this.seq = 0;
    this.synced = false;
    this.announced.clear();
    this.changed(false);
  }

  private changed(live: boolean): void {
    let fresh = false;
    for (const a of this.alarms.values()) {
      if (!(unacked(a) && a.severity <= 2)) continue;
      const key = `${a.alarmId}@${a.since}`;
      if (!this.announced.has(key)) {
        this.announced.add(key);
        if (live) fresh = true;
      }
    }
    if (fresh) this.beep();
    for (const fn of this.listeners) fn();
  }

  /** An audible cue: two short tones through Web Audio (no audio files). */
  beep(): void {
    this.beeps++;
    document.body.dataset.beeps = String(this.beeps);
    try {
      this.audio ??= new AudioContext();
      const ctx = this.audio;
      if (ctx.state === 'suspended') void ctx.resume().catch(() => undefined);
      for (const [i, hz] of [880, 660].entries()) {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = hz;
        o.type = 'square';
        const t0 = ctx.currentTime + i * 0.22;
        g.gain.setValueAtTime(0.0001, t0);
        g.gain.exponentialRampToValueAtTime(0.2, t0 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.18);
        o.connect(g).connect(ctx.destination);
        o.start(t0);
        o.stop(t0 + 0.2);
      }
    } catch {
      /* no audio device: the title count still shows it */
    }
  }
}

export const alarmStore = new AlarmStore();

// ---------------------------------------------------------------- REST actions

const enc = encodeURIComponent;
const post = (id: string, op: string, body: object) =>
  api<{ seq: number; alarm: AlarmView }>(`alarms/${enc(id)}/${op}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

export const alarmApi = {
  list: (q = '') => api<{ seq: number; total: number; alarms: AlarmView[] }>(`alarms${q}`),
  get: (id: string) => api<{ seq: number; alarm: AlarmView }>(`alarms/${enc(id)}`),
  history: (id: string) => api<{ alarmId: string; events: AlarmEvent[] }>(`alarms/${enc(id)}/history?limit=200`),
  acknowledge: (id: string, comment: string) => post(id, 'acknowledge', comment ? { comment } : {}),
  shelve: (id: string, reason: string, forS: number) => post(id, 'shelve', { reason, forS }),
  unshelve: (id: string) => post(id, 'unshelve', {}),
  comment: (id: string, comment: string) => post(id, 'comment', { comment }),
  /** admin only (server/alarms/routes.ts) */
  removeFromService: (id: string, reason: string) => post(id, 'remove-from-service', { reason }),
  returnToService: (id: string, comment: string) => post(id, 'return-to-service', comment ? { comment } : {}),
};

/** After an action, the answer holds the alarm as it now is: show it at once (the frame follows). */
function applyAnswer(a: AlarmView): void {
  alarmStore.put(a);
}

// ---------------------------------------------------------------- count chips (overview, room)

function paintChip(chip: HTMLElement, c: number[], calls: number): void {
  const b = chip.querySelector('b')!;
  const parts = [1, 2, 3, 4].map((s) => `${sevText(s)} ${c[s]}`);
  const total = c[1]! + c[2]! + c[3]! + c[4]!;
  chip.className = `chip c-alarms${total ? '' : ' zero'}${c[1] || c[2] ? ' hot' : ''}`;
  setText(b, String(total));
  const detail = chip.querySelector('.sev')!;
  setText(detail, parts.join(' · ') + (calls ? ` · ${t('call')} ${calls}` : ''));
  chip.dataset.counts = c.slice(1).join(',');
  chip.dataset.calls = String(calls);
}

/** The alarm count chip of the overview summary: standing alarms by severity. */
export function alarmSummarySlot(): HTMLElement {
  const chip = el('a', { class: 'chip c-alarms', 'data-k': 'alarms', href: '#/alarms' }, el('span', {}, t('sum_alarms')), el('b', {}, '…'), el('span', { class: 'sev' }, ''));
  const paint = () => {
    if (!chip.isConnected && chip.dataset.painted) return off();
    chip.dataset.painted = '1';
    paintChip(chip, alarmStore.counts(), alarmStore.counts(isCall).reduce((x, y) => x + y, 0));
  };
  const off = alarmStore.onChange(paint);
  paint();
  return chip;
}

/** The room view's alarms (by severity) and the site's one-key calls, which can be taken here. */
export function roomAlarmSlot(site: string, room: string, role: Role): HTMLElement {
  const chip = el('a', { class: 'chip c-alarms', 'data-k': 'room-alarms', href: `#/alarms?site=${enc(site)}` }, el('span', {}, t('sum_alarms')), el('b', {}, '…'), el('span', { class: 'sev' }, ''));
  const calls = el('div', { class: 'room-calls' });
  const box = el('div', { class: 'room-alarms' }, chip, calls);
  const paint = () => {
    if (!box.isConnected && box.dataset.painted) return off();
    box.dataset.painted = '1';
    const inRoom = (a: AlarmView) => a.site === site && (a.room === room || isCall(a));
    paintChip(chip, alarmStore.counts(inRoom), 0);
    const standing = alarmStore.list().filter((a) => isCall(a) && a.site === site);
    calls.replaceChildren(...standing.map((a) => callCard(a, role)));
  };
  const off = alarmStore.onChange(paint);
  paint();
  return box;
}

/** An overview room card's badge: the room's standing alarms by severity (and its site's calls); empty when none. */
export function roomAlarmBadge(site: string, room: string): HTMLElement {
  const badge = el('a', { class: 'room-alarm-badge', href: `#/alarms?q=${enc(site)}`, 'data-k': 'room-alarms' });
  const paint = () => {
    if (!badge.isConnected && badge.dataset.painted) return off();
    badge.dataset.painted = '1';
    const c = alarmStore.counts((a) => a.site === site && (a.room === room || isCall(a)));
    const parts = [1, 2, 3, 4].filter((s) => c[s]).map((s) => el('span', { class: `sev sev-${s}` }, `${sevText(s)} ${c[s]}`));
    badge.replaceChildren(...parts);
    badge.hidden = parts.length === 0;
    badge.dataset.counts = c.slice(1).join(',');
  };
  const off = alarmStore.onChange(paint);
  paint();
  return badge;
}

let siteName = (id: string): string => id;
let roomName = (_site: string, room: string): string => room;
/** how the call cards and the console name a site and a room (the topology's names) */
export function setSiteNames(site: (id: string) => string, room?: (site: string, room: string) => string): void {
  siteName = site;
  if (room) roomName = room;
}

/**
 * A one-key call's optional details as the server keeps them in the alarm's
 * detail (contract/call.ts: `room`, `caller: { name, phone }`, `message`);
 * older sites send none, and the card then names only the site.
 */
export interface CallMeta {
  room: string;
  /** "name (phone)", or whichever of them was sent */
  caller: string;
  message: string;
}
const str = (x: unknown): string => (typeof x === 'string' ? x.trim() : '');
export function callMeta(a: AlarmView): CallMeta {
  const d = a.detail ?? {};
  const c = d.caller;
  let caller = str(c);
  if (c && typeof c === 'object' && !Array.isArray(c)) {
    const { name, phone } = c as Record<string, unknown>;
    caller = [str(name), str(phone) && (str(name) ? `(${str(phone)})` : str(phone))].filter(Boolean).join(' ');
  }
  return { room: a.room || str(d.room), caller, message: str(d.message) };
}

function callCard(a: AlarmView, role: Role): HTMLElement {
  const taken = a.acknowledged;
  const m = callMeta(a);
  const where = [siteName(a.site), m.room ? roomName(a.site, m.room) : '', timeText(a.activeSince ?? a.since)].filter(Boolean).join(' · ');
  const card = el('div', { class: `call-card${taken ? ' taken' : ''}`, 'data-alarm': a.alarmId, 'data-state': a.state }, el('b', {}, `☎ ${t('call')}`));
  const info = el('span', { class: 'call-info' }, el('span', { class: 'where' }, where));
  if (m.caller) info.append(el('span', { class: 'caller' }, `${L('呼叫人', 'Caller')}：${m.caller}`));
  if (m.message) info.append(el('span', { class: 'call-msg' }, `“${m.message}”`));
  card.append(info);
  if (taken) card.append(el('span', { class: 'taken-by' }, L(`已由 ${taken.by} 接听 ${timeText(taken.at)}`, `taken by ${taken.by} at ${timeText(taken.at)}`)));
  else if (role !== 'viewer') {
    const btn = el('button', { type: 'button', class: 'act take', 'data-act': 'take' }, L('接听', 'Take'));
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        applyAnswer((await alarmApi.acknowledge(a.alarmId, L('已接听', 'call taken'))).alarm);
      } catch (e) {
        btn.disabled = false;
        card.append(el('span', { class: 'error' }, (e as Error).message));
      }
    });
    card.append(btn);
  } else card.append(el('span', { class: 'muted' }, L('待接听', 'waiting')));
  return card;
}

// ---------------------------------------------------------------- the console view

export interface ConsoleCtx {
  role: Role;
  query: URLSearchParams;
  setQuery(q: URLSearchParams): void;
  /** device id → readable place */
  sourceName(a: AlarmView): string;
  /** the topology's sites, for the history filter */
  sites: ReadonlyArray<{ id: string; name: string }>;
}

const LEVEL_ZH: Record<string, string> = { hihi: '高高限', hi: '高限', lo: '低限', lolo: '低低限', stale: '无数据', dark: '停电', call: '呼叫', normal: '常态', short: '短时' };
const levelText = (l: string | null): string => (!l ? '' : getLang() === 'zh' ? (LEVEL_ZH[l] ?? l) : l);
const REASON_ZH: Record<string, string> = {
  raise: '发生',
  level: '级别变化',
  clear: '恢复',
  acknowledge: '确认',
  shelve: '搁置',
  unshelve: '取消搁置',
  shelve_expired: '搁置到期',
  suppress: '抑制',
  unsuppress: '解除抑制',
  remove_from_service: '停用',
  return_to_service: '恢复服务',
  comment: '备注',
};
const reasonText = (r: string): string => (getLang() === 'zh' ? (REASON_ZH[r] ?? r) : r.replace(/_/g, ' '));
const ALL_STATES: readonly AlarmState[] = ['normal', 'unack_active', 'ack_active', 'unack_rtn', 'shelved', 'suppressed', 'out_of_service'];

/** history windows: alarms whose last transition falls in the window */
const WINDOWS: Record<string, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };
/** most rows a history query shows; the count says when there are more */
const HIST_LIMIT = 500;

/** `datetime-local` value of an epoch ms, local time */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function alarmConsole(ctx: ConsoleCtx): { root: HTMLElement; destroy(): void } {
  const canAct = ctx.role === 'operator' || ctx.role === 'admin';
  const isAdmin = ctx.role === 'admin';
  const q = ctx.query;
  let mode: 'live' | 'hist' = q.get('mode') === 'hist' ? 'hist' : 'live';
  let openId: string | null = q.get('alarm');
  /** the open action form; `focused` once its input was focused (a repaint must not steal the focus again) */
  let form: { id: string; kind: string; focused?: boolean; text?: string; forS?: string } | null = null;

  // ---- standing set: filtered here
  const sevSel = el('select', { 'aria-label': L('严重度', 'severity'), 'data-f': 'severity' }, el('option', { value: '' }, L('全部严重度', 'all severities')), ...[1, 2, 3, 4].map((s) => el('option', { value: String(s) }, `≤ ${sevText(s)}`)));
  const stSel = el(
    'select',
    { 'aria-label': L('状态', 'state'), 'data-f': 'state' },
    el('option', { value: '' }, L('全部状态', 'all states')),
    el('option', { value: 'unack' }, L('未确认', 'unacknowledged')),
    el('option', { value: 'active' }, L('活动', 'active')),
    el('option', { value: 'shelved' }, stateText('shelved')),
    el('option', { value: 'call' }, t('call')),
  );
  const search = el('input', { type: 'search', class: 'search', placeholder: L('站点 / 配电房 / 设备 / 规则', 'site / room / device / rule'), 'data-f': 'q' });
  sevSel.value = q.get('sev') ?? '';
  stSel.value = q.get('st') ?? '';
  search.value = q.get('q') ?? q.get('site') ?? '';
  const liveBar = el('div', { class: 'filters live-filters' }, sevSel, stSel, search);

  // ---- history: the server's alarm list with its filters (GET /api/alarms)
  const hState = el(
    'select',
    { name: 'state', 'aria-label': L('状态', 'state') },
    el('option', { value: '' }, L('全部状态（含已恢复）', 'all states (incl. cleared)')),
    el('option', { value: 'standing' }, L('未恢复（非正常）', 'standing (not normal)')),
    ...ALL_STATES.map((s) => el('option', { value: s }, s === 'normal' ? L('已恢复（正常）', 'cleared (normal)') : stateText(s))),
  );
  const hSev = el('select', { name: 'severity', 'aria-label': L('严重度', 'severity') }, el('option', { value: '' }, L('全部严重度', 'all severities')), ...[1, 2, 3, 4].map((s) => el('option', { value: String(s) }, `≤ ${sevText(s)}`)));
  const hSite = el('select', { name: 'site', 'aria-label': L('站点', 'site') }, el('option', { value: '' }, L('全部站点', 'all sites')), ...ctx.sites.map((s) => el('option', { value: s.id }, s.name)));
  const hWin = el(
    'select',
    { name: 'window', 'aria-label': L('时间', 'time') },
    ...[['1h', L('最近 1 小时', 'last hour')], ['24h', L('最近 24 小时', 'last 24 h')], ['7d', L('最近 7 天', 'last 7 days')], ['30d', L('最近 30 天', 'last 30 days')], ['custom', L('自定义…', 'custom…')]].map(([v, label]) => el('option', { value: v! }, label!)),
  );
  const hFrom = el('input', { type: 'datetime-local', name: 'from', 'aria-label': L('起', 'from') });
  const hTo = el('input', { type: 'datetime-local', name: 'to', 'aria-label': L('止', 'to') });
  const custom = el('span', { class: 'custom' }, hFrom, '–', hTo);
  const hGo = el('button', { type: 'submit', class: 'act primary' }, L('查询', 'Search'));
  const histForm = el('form', { class: 'filters hist-form', 'data-form': 'history' }, hState, hSev, hSite, el('span', { class: 'k' }, L('最后变化', 'last change')), hWin, custom, hGo);
  hState.value = q.get('hst') ?? '';
  hSev.value = q.get('hsev') ?? '';
  hSite.value = q.get('hsite') ?? '';
  hWin.value = WINDOWS[q.get('hw') ?? ''] || q.get('hw') === 'custom' ? q.get('hw')! : '24h';
  const now0 = Date.now();
  hFrom.value = q.get('hfrom') ?? localInput(now0 - 86_400_000);
  hTo.value = q.get('hto') ?? localInput(now0);
  const showCustom = () => (custom.hidden = hWin.value !== 'custom');
  showCustom();

  const modeSeg = el('span', { class: 'seg modeseg', role: 'group', 'aria-label': L('模式', 'mode') });
  for (const [m, label] of [['live', L('当前告警', 'Standing')], ['hist', L('历史查询', 'History')]] as const) {
    const b = el('button', { type: 'button', 'data-mode': m }, label);
    b.addEventListener('click', () => setMode(m));
    modeSeg.append(b);
  }

  const countEl = el('span', { class: 'muted count' });
  // the history query's alarms, or the standing set (the server's default list)
  const csvBtn = exportButton('alarms.csv', () => (mode === 'hist' ? histParams() : new URLSearchParams()));
  const tbody = el('tbody');
  const table = el(
    'table',
    { class: 'alarms-table' },
    el('thead', {}, el('tr', {}, ...[L('严重度', 'Severity'), L('状态', 'State'), L('来源', 'Source'), L('告警', 'Alarm'), L('值 / 限值', 'Value / limit'), L('发生', 'Since'), L('更新', 'Updated'), L('确认', 'Ack'), ''].map((h) => el('th', {}, h)))),
    tbody,
  );
  const side = el('aside', { class: 'alarm-side', hidden: '' });
  const empty = el('p', { class: 'muted empty' });
  const root = el(
    'div',
    { class: 'view alarms' },
    el('div', { class: 'toolbar' }, el('h2', {}, L('告警台', 'Alarm console')), modeSeg, liveBar, histForm, countEl, csvBtn),
    el('div', { class: 'alarms-body' }, el('div', { class: 'alarms-main' }, table, empty), side),
  );

  let hist: { alarms: AlarmView[]; total: number } | null = null;
  let histError = '';
  let histBusy = false;

  function saveQuery(): void {
    const n = new URLSearchParams();
    if (mode === 'hist') {
      n.set('mode', 'hist');
      if (hState.value) n.set('hst', hState.value);
      if (hSev.value) n.set('hsev', hSev.value);
      if (hSite.value) n.set('hsite', hSite.value);
      n.set('hw', hWin.value);
      if (hWin.value === 'custom') {
        n.set('hfrom', hFrom.value);
        n.set('hto', hTo.value);
      }
    } else {
      if (sevSel.value) n.set('sev', sevSel.value);
      if (stSel.value) n.set('st', stSel.value);
      if (search.value) n.set('q', search.value);
    }
    if (openId) n.set('alarm', openId);
    ctx.setQuery(n);
  }

  function setMode(m: 'live' | 'hist'): void {
    mode = m;
    form = null;
    for (const b of modeSeg.querySelectorAll<HTMLElement>('button')) b.classList.toggle('on', b.dataset.mode === mode);
    root.dataset.mode = mode;
    liveBar.hidden = mode !== 'live';
    histForm.hidden = mode !== 'hist';
    saveQuery();
    if (mode === 'hist') void runQuery();
    else paint();
  }

  const filters = () => {
    saveQuery();
    paint();
  };
  sevSel.addEventListener('change', filters);
  stSel.addEventListener('change', filters);
  search.addEventListener('input', filters);
  hWin.addEventListener('change', showCustom);
  histForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    saveQuery();
    void runQuery();
  });

  let queryToken = 0;
  /** The history form as /api/alarms parameters. */
  function histParams(): URLSearchParams {
    const p = new URLSearchParams();
    const st = hState.value;
    if (st === '') p.set('state', 'all');
    else if (st !== 'standing') p.set('state', st);
    if (hSev.value) p.set('severity', [1, 2, 3, 4].filter((s) => s <= Number(hSev.value)).join(','));
    if (hSite.value) p.set('site', hSite.value);
    if (hWin.value === 'custom') {
      const from = hFrom.value ? new Date(hFrom.value).getTime() : NaN;
      const to = hTo.value ? new Date(hTo.value).getTime() : NaN;
      if (Number.isFinite(from)) p.set('from', String(from));
      if (Number.isFinite(to)) p.set('to', String(to + 60_000)); // the minute given is included
    } else p.set('from', String(Date.now() - (WINDOWS[hWin.value] ?? WINDOWS['24h']!)));
    return p;
  }

  async function runQuery(): Promise<void> {
    const my = ++queryToken;
    const p = histParams();
    p.set('limit', String(HIST_LIMIT));
    histBusy = true;
    root.dataset.query = 'loading';
    paint();
    try {
      const r = await alarmApi.list(`?${p}`);
      if (my !== queryToken) return;
      hist = { alarms: r.alarms, total: r.total };
      histError = '';
    } catch (e) {
      if (my !== queryToken) return;
      histError = (e as Error).message;
    }
    histBusy = false;
    root.dataset.query = histError ? 'error' : 'done';
    root.dataset.queries = String(Number(root.dataset.queries ?? 0) + 1);
    paint();
  }
  /** the standing set changed while history is shown: query again, at most every 2 s */
  let requery: ReturnType<typeof setTimeout> | null = null;
  const scheduleRequery = () => {
    if (mode !== 'hist' || requery) return;
    requery = setTimeout(() => {
      requery = null;
      if (mode === 'hist') void runQuery();
    }, 2000);
  };

  const matches = (a: AlarmView): boolean => {
    if (sevSel.value && a.severity > Number(sevSel.value)) return false;
    const st = stSel.value;
    if (st === 'unack' && !unacked(a)) return false;
    if (st === 'active' && !ACTIVE_STATES.has(a.state)) return false;
    if (st === 'shelved' && a.state !== 'shelved') return false;
    if (st === 'call' && !isCall(a)) return false;
    const s = search.value.trim().toLowerCase();
    if (s && ![a.site, a.room, a.transformer, a.line, a.source, a.ruleId, a.ruleName ?? '', a.message ?? '', ctx.sourceName(a)].some((x) => x.toLowerCase().includes(s))) return false;
    return true;
  };

  const valueText = (a: AlarmView): string => {
    const d = a.detail ?? {};
    const v = typeof d.value === 'number' ? d.value : null;
    const lim = typeof d.limit === 'number' ? d.limit : null;
    if (v === null && lim === null) return '—';
    const f = (x: number | null) => (x === null ? '—' : String(Math.round(x * 100) / 100));
    return `${f(v)} / ${f(lim)}`;
  };

  function alarmCell(a: AlarmView): HTMLElement {
    if (isCall(a)) {
      const m = callMeta(a);
      const cell = el('td', { class: 'what' }, `☎ ${t('call')}`);
      if (m.caller) cell.append(el('small', { class: 'caller' }, `${L('呼叫人', 'Caller')}：${m.caller}`));
      if (m.message) cell.append(el('small', { class: 'call-msg' }, `“${m.message}”`));
      return cell;
    }
    const lv = levelText(a.level);
    return el('td', { class: 'what', title: a.message ?? '' }, a.ruleName ?? a.ruleId, lv ? el('span', { class: 'lv' }, ` · ${lv}`) : '');
  }

  function actions(a: AlarmView): HTMLElement {
    const cell = el('td', { class: 'acts' });
    const btn = (kind: string, label: string) => {
      const b = el('button', { type: 'button', class: `act ${kind}`, 'data-act': kind }, label);
      b.addEventListener('click', () => {
        if (kind === 'history') {
          openId = openId === a.alarmId ? null : a.alarmId;
          saveQuery();
          void showHistory();
          return;
        }
        if (kind === 'unshelve') return void run(() => alarmApi.unshelve(a.alarmId));
        form = form?.id === a.alarmId && form.kind === kind ? null : { id: a.alarmId, kind };
        paint();
      });
      return b;
    };
    if (canAct && a.state !== 'normal') {
      if (unacked(a)) cell.append(btn('ack', isCall(a) ? L('接听', 'Take') : L('确认', 'Ack')));
      if (a.state === 'shelved') cell.append(btn('unshelve', L('取消搁置', 'Unshelve')));
      else if (a.state !== 'out_of_service') cell.append(btn('shelve', L('搁置', 'Shelve')));
      cell.append(btn('comment', L('备注', 'Comment')));
    }
    // ISA-18.2 out of service (maintenance): admins only, as the server allows
    if (isAdmin) {
      if (a.state === 'out_of_service') cell.append(btn('ris', L('恢复服务', 'Return to service')));
      else cell.append(btn('oos', L('停用', 'Out of service')));
    }
    cell.append(btn('history', L('历史', 'History')));
    return cell;
  }

  async function run(fn: () => Promise<{ alarm: AlarmView }>, errEl?: HTMLElement): Promise<boolean> {
    try {
      applyAnswer((await fn()).alarm);
      if (mode === 'hist') void runQuery();
      return true;
    } catch (e) {
      if (errEl) errEl.textContent = (e as Error).message;
      return false;
    }
  }

  const FORM: Record<string, { title: () => string; placeholder: () => string; submit: () => string; required: boolean }> = {
    ack: { title: () => L('确认', 'Acknowledge'), placeholder: () => L('确认备注（可选）', 'comment (optional)'), submit: () => L('确认', 'Acknowledge'), required: false },
    shelve: { title: () => L('搁置至', 'Shelve for'), placeholder: () => L('搁置原因（必填）', 'reason (required)'), submit: () => L('搁置', 'Shelve'), required: true },
    comment: { title: () => L('备注', 'Comment'), placeholder: () => L('备注（必填）', 'comment (required)'), submit: () => L('提交', 'Add'), required: true },
    oos: { title: () => L('停用（检修）', 'Out of service'), placeholder: () => L('停用原因（必填）', 'reason (required)'), submit: () => L('停用', 'Remove'), required: true },
    ris: { title: () => L('恢复服务', 'Return to service'), placeholder: () => L('备注（可选）', 'comment (optional)'), submit: () => L('恢复服务', 'Return'), required: false },
  };

  function formRow(a: AlarmView, kind: string): HTMLElement {
    const spec = FORM[kind] ?? FORM.comment!;
    const err = el('span', { class: 'error' });
    const text = el('input', { type: 'text', name: 'text', maxlength: '4000', placeholder: spec.placeholder() });
    const mins = el('select', { name: 'for' }, ...[15, 60, 240, 480, 1440].map((m) => el('option', { value: String(m * 60) }, m < 60 ? `${m} ${L('分钟', 'min')}` : `${m / 60} ${L('小时', 'h')}`)));
    // a repaint rebuilds the row: what was typed or chosen is kept in `form`
    mins.value = form?.forS ?? '3600';
    text.value = form?.text ?? '';
    const keep = () => {
      if (form) Object.assign(form, { text: text.value, forS: mins.value });
    };
    text.addEventListener('input', keep);
    mins.addEventListener('change', keep);
    const ok = el('button', { type: 'submit', class: 'act primary' }, spec.submit());
    const f = el('form', { class: 'act-form', 'data-form': kind }, el('span', {}, spec.title()), kind === 'shelve' ? mins : '', text, ok, err);
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const v = text.value.trim();
      if (spec.required && !v) return void (err.textContent = L('请填写', 'required'));
      ok.disabled = true;
      const call = (): Promise<{ alarm: AlarmView }> => {
        switch (kind) {
          case 'ack':
            return alarmApi.acknowledge(a.alarmId, v);
          case 'shelve':
            return alarmApi.shelve(a.alarmId, v, Number(mins.value));
          case 'oos':
            return alarmApi.removeFromService(a.alarmId, v);
          case 'ris':
            return alarmApi.returnToService(a.alarmId, v);
          default:
            return alarmApi.comment(a.alarmId, v);
        }
      };
      const done = await run(call, err);
      ok.disabled = false;
      if (done) {
        form = null;
        // the form is gone: its input must not hold back the repaint (see paint)
        if (f.contains(document.activeElement)) (document.activeElement as HTMLElement).blur();
        paint();
        if (openId === a.alarmId) void showHistory(true);
      }
    });
    if (form && !form.focused) {
      form.focused = true;
      queueMicrotask(() => text.focus());
    }
    return el('tr', { class: 'form-row' }, el('td', { colspan: '9' }, f));
  }

  let histToken = 0;
  async function showHistory(refresh = false): Promise<void> {
    const id = openId;
    const my = ++histToken;
    if (!id) {
      side.hidden = true;
      paint();
      return;
    }
    if (!refresh) {
      side.hidden = false;
      side.replaceChildren(el('h3', {}, L('告警历史', 'Alarm history')), el('p', { class: 'muted' }, '…'));
      paint();
    }
    try {
      const [h, cur] = await Promise.all([alarmApi.history(id), alarmApi.get(id).catch(() => null)]);
      if (my !== histToken) return;
      const close = el('button', { type: 'button', class: 'act', 'data-act': 'close' }, '×');
      close.addEventListener('click', () => {
        openId = null;
        saveQuery();
        void showHistory();
      });
      const a = cur?.alarm ?? alarmStore.alarms.get(id) ?? hist?.alarms.find((x) => x.alarmId === id) ?? null;
      const head = a
        ? el(
            'p',
            { class: 'side-alarm' },
            el('span', { class: `sev sev-${a.severity}` }, sevText(a.severity)),
            ' ',
            el('b', { class: 'state' }, stateText(a.state)),
            ` · ${ctx.sourceName(a)} · ${isCall(a) ? t('call') : (a.ruleName ?? a.ruleId)}`,
          )
        : '';
      const rows = h.events
        .slice()
        .reverse()
        .map((e) =>
          el(
            'li',
            { 'data-reason': e.reason ?? e.kind ?? '' },
            el('time', {}, timeText(e.at)),
            ' ',
            el('b', {}, e.to ? stateText(e.to) : (e.kind ?? '')),
            e.reason ? el('span', { class: 'muted' }, ` (${reasonText(e.reason)})`) : '',
            e.by ? ` · ${e.by}` : '',
            e.comment ? ` · “${e.comment}”` : '',
            e.until ? ` · ${L('至', 'until')} ${timeText(e.until)}` : '',
          ),
        );
      side.replaceChildren(
        el('div', { class: 'side-head' }, el('h3', {}, L('告警历史', 'Alarm history')), close),
        head,
        el('p', { class: 'mono' }, id),
        rows.length ? el('ol', { class: 'hist' }, ...rows) : el('p', { class: 'muted' }, L('无记录', 'no events')),
      );
      side.dataset.alarm = id;
    } catch (e) {
      if (my === histToken) side.replaceChildren(el('h3', {}, L('告警历史', 'Alarm history')), el('p', { class: 'error' }, (e as Error).message));
    }
  }

  function paint(): void {
    let shown: AlarmView[];
    if (mode === 'live') {
      const all = alarmStore.list();
      shown = all.filter(matches);
      setText(countEl, L(`${shown.length} / ${all.length} 条`, `${shown.length} of ${all.length}`));
    } else {
      shown = hist?.alarms ?? [];
      const total = hist?.total ?? 0;
      setText(countEl, histBusy && !hist ? '…' : total > shown.length ? L(`${shown.length} 条（共 ${total} 条，只显示前 ${shown.length} 条）`, `${shown.length} of ${total} (first ${shown.length} shown)`) : L(`${shown.length} 条`, `${shown.length} alarm${shown.length === 1 ? '' : 's'}`));
    }
    const rows: HTMLElement[] = [];
    for (const a of shown) {
      const ack = a.acknowledged
        ? `${a.acknowledged.by} ${timeText(a.acknowledged.at)}${a.acknowledged.comment ? ` · ${a.acknowledged.comment}` : ''}`
        : a.state === 'shelved' && a.shelf
          ? `${L('搁置', 'shelved')} ${a.shelf.by}: ${a.shelf.reason} → ${timeText(a.shelf.until)}`
          : a.state === 'out_of_service' && a.outOfService
            ? `${L('停用', 'out of service')} ${a.outOfService.by}: ${a.outOfService.reason}`
            : '—';
      rows.push(
        el(
          'tr',
          { class: `sev-${a.severity} st-${a.state}${isCall(a) ? ' is-call' : ''}${openId === a.alarmId ? ' open' : ''}`, 'data-alarm': a.alarmId, 'data-state': a.state },
          el('td', {}, el('span', { class: `sev sev-${a.severity}` }, sevText(a.severity))),
          el('td', { class: 'state' }, stateText(a.state)),
          el('td', { class: 'src' }, ctx.sourceName(a)),
          alarmCell(a),
          el('td', { class: 'num' }, valueText(a)),
          // a cleared alarm has no active-since; its raise is in its history
          el('td', { class: 'time' }, timeText(a.activeSince ?? (a.state === 'normal' ? null : a.since))),
          el('td', { class: 'time' }, timeText(a.updatedAt)),
          el('td', { class: 'ackd' }, ack),
          actions(a),
        ),
      );
      if (form && form.id === a.alarmId) rows.push(formRow(a, form.kind));
    }
    // keep a form being typed into: only repaint when no input inside it has focus
    const active = document.activeElement;
    if (active && tbody.contains(active) && (active.tagName === 'INPUT' || active.tagName === 'SELECT')) {
      pendingPaint = true;
      return;
    }
    pendingPaint = false;
    tbody.replaceChildren(...rows);
    empty.textContent = shown.length
      ? ''
      : mode === 'hist'
        ? histError || (histBusy ? L('查询中…', 'searching…') : L('没有符合条件的告警', 'no alarm matches'))
        : alarmStore.synced
          ? L('没有告警', 'no alarms')
          : L('正在同步告警…', 'syncing alarms…');
  }
  let pendingPaint = false;
  const onFocusOut = () => {
    if (pendingPaint) setTimeout(paint, 0);
  };
  root.addEventListener('focusout', onFocusOut);
  const off = alarmStore.onChange(() => {
    if (mode === 'live') paint();
    else scheduleRequery();
  });
  // the journal is written a moment after the transition: refresh an open history
  const histTimer = setInterval(() => {
    if (openId) void showHistory(true);
  }, 2000);
  setMode(mode);
  if (openId) void showHistory();
  return {
    root,
    destroy() {
      off();
      clearInterval(histTimer);
      if (requery) clearTimeout(requery);
    },
  };
}

// ---------------------------------------------------------------- title-bar count

export function titleCount(base: string): string {
  const n = alarmStore.unackedHigh();
  return n ? `(${n}) ${base}` : base;
}
