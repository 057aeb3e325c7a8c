/**
 * The alarm console view: the standing set (filtered here) or the server's
 * history query, the table, an alarm's history panel and the operator
 * actions (acknowledge, shelve, unshelve, comment; admins also out of
 * service). Actions are offered to operators and admins only; viewers get no
 * buttons.
 */
import { el, setText } from '../dom.ts';
import { exportButton } from '../export.ts';
import { t } from '../i18n.ts';
import type { Role } from '../api.ts';
import { ACTIVE_STATES, alarmApi, alarmStore, applyAnswer, isCall, unacked, type AlarmState, type AlarmView } from './store.ts';
import { actionFormRow, type ActionFormState } from './actions.ts';
import { callMeta } from './calls.ts';
import { historyFilters } from './filters.ts';
import { historyFailed, historyLoading, historyPanel } from './history-panel.ts';
import { levelText, sevText, stateText, timeText } from './text.ts';

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

/** most rows a history query shows; the count says when there are more */
const HIST_LIMIT = 500;

export function alarmConsole(ctx: ConsoleCtx): { root: HTMLElement; destroy(): void } {
  const canAct = ctx.role === 'operator' || ctx.role === 'admin';
  const isAdmin = ctx.role === 'admin';
  const q = ctx.query;
  let mode: 'live' | 'hist' = q.get('mode') === 'hist' ? 'hist' : 'live';
  let openId: string | null = q.get('alarm');
  /** the open action form; `focused` once its input was focused (a repaint must not steal the focus again) */
  let form: ActionFormState | null = null;

  // ---- standing set: filtered here
  const sevSel = el('select', { 'aria-label': t('a_severity'), 'data-f': 'severity' }, el('option', { value: '' }, t('a_allSeverities')), ...[1, 2, 3, 4].map((s) => el('option', { value: String(s) }, t('a_atMost', { sev: sevText(s) }))));
  const stSel = el(
    'select',
    { 'aria-label': t('a_state'), 'data-f': 'state' },
    el('option', { value: '' }, t('a_allStates')),
    el('option', { value: 'unack' }, t('a_unacked')),
    el('option', { value: 'active' }, t('a_active')),
    el('option', { value: 'shelved' }, stateText('shelved')),
    el('option', { value: 'call' }, t('call')),
  );
  const search = el('input', { type: 'search', class: 'search', placeholder: t('a_searchPlaceholder'), 'data-f': 'q' });
  sevSel.value = q.get('sev') ?? '';
  stSel.value = q.get('st') ?? '';
  search.value = q.get('q') ?? q.get('site') ?? '';
  const liveBar = el('div', { class: 'filters live-filters' }, sevSel, stSel, search);

  // ---- history: the server's alarm list with its filters (GET /api/alarms)
  const { hState, hSev, hSite, hWin, hFrom, hTo, histForm, showCustom, params: histParams } = historyFilters(q, ctx.sites);

  const modeSeg = el('span', { class: 'seg modeseg', role: 'group', 'aria-label': t('a_mode') });
  for (const [m, label] of [['live', t('a_modeLive')], ['hist', t('a_modeHist')]] as const) {
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
    el('thead', {}, el('tr', {}, ...[t('a_colSeverity'), t('a_colState'), t('a_colSource'), t('a_colAlarm'), t('a_colValue'), t('a_colSince'), t('a_colUpdated'), t('a_colAck'), ''].map((h) => el('th', {}, h)))),
    tbody,
  );
  const side = el('aside', { class: 'alarm-side', hidden: '' });
  const empty = el('p', { class: 'muted empty' });
  const root = el(
    'div',
    { class: 'view alarms' },
    el('div', { class: 'toolbar' }, el('h2', {}, t('a_console')), modeSeg, liveBar, histForm, countEl, csvBtn),
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
      if (m.caller) cell.append(el('small', { class: 'caller' }, t('a_caller', { caller: m.caller })));
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
      if (unacked(a)) cell.append(btn('ack', t(isCall(a) ? 'a_btnTake' : 'a_btnAck')));
      if (a.state === 'shelved') cell.append(btn('unshelve', t('a_btnUnshelve')));
      else if (a.state !== 'out_of_service') cell.append(btn('shelve', t('a_btnShelve')));
      cell.append(btn('comment', t('a_btnComment')));
    }
    // ISA-18.2 out of service (maintenance): admins only, as the server allows
    if (isAdmin) {
      if (a.state === 'out_of_service') cell.append(btn('ris', t('a_btnReturn')));
      else cell.append(btn('oos', t('a_btnOos')));
    }
    cell.append(btn('history', t('a_btnHistory')));
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

  const formRow = (a: AlarmView, kind: string): HTMLElement =>
    actionFormRow(a, kind, {
      state: () => form,
      run,
      done: (done) => {
        form = null;
        paint();
        if (openId === done.alarmId) void showHistory(true);
      },
    });

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
      side.replaceChildren(...historyLoading());
      paint();
    }
    try {
      const [h, cur] = await Promise.all([alarmApi.history(id), alarmApi.get(id).catch(() => null)]);
      if (my !== histToken) return;
      const a = cur?.alarm ?? alarmStore.alarms.get(id) ?? hist?.alarms.find((x) => x.alarmId === id) ?? null;
      side.replaceChildren(
        ...historyPanel({
          id,
          alarm: a,
          events: h.events,
          sourceName: ctx.sourceName,
          onClose: () => {
            openId = null;
            saveQuery();
            void showHistory();
          },
        }),
      );
      side.dataset.alarm = id;
    } catch (e) {
      if (my === histToken) side.replaceChildren(...historyFailed((e as Error).message));
    }
  }

  function paint(): void {
    let shown: AlarmView[];
    if (mode === 'live') {
      const all = alarmStore.list();
      shown = all.filter(matches);
      setText(countEl, t('a_shownOfAll', { shown: shown.length, all: all.length }));
    } else {
      shown = hist?.alarms ?? [];
      const total = hist?.total ?? 0;
      setText(countEl, histBusy && !hist ? '…' : total > shown.length ? t('a_shownOfTotal', { shown: shown.length, total }) : shown.length === 1 ? t('a_count1') : t('a_count', { n: shown.length }));
    }
    const rows: HTMLElement[] = [];
    for (const a of shown) {
      const ack = a.acknowledged
        ? `${a.acknowledged.by} ${timeText(a.acknowledged.at)}${a.acknowledged.comment ? ` · ${a.acknowledged.comment}` : ''}`
        : a.state === 'shelved' && a.shelf
          ? t('a_shelvedBy', { by: a.shelf.by, reason: a.shelf.reason, until: timeText(a.shelf.until) })
          : a.state === 'out_of_service' && a.outOfService
            ? t('a_oosBy', { by: a.outOfService.by, reason: a.outOfService.reason })
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
        ? histError || (histBusy ? t('a_searching') : t('a_noMatch'))
        : alarmStore.synced
          ? t('a_none')
          : t('a_syncing');
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

