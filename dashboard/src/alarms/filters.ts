/** The history query's filter form (state incl. cleared, severity, site, window of the last change) and its /api/alarms parameters. */
import { el } from '../dom.ts';
import type { AlarmState } from './store.ts';
import { L, sevText, stateText } from './text.ts';

const ALL_STATES: readonly AlarmState[] = ['normal', 'unack_active', 'ack_active', 'unack_rtn', 'shelved', 'suppressed', 'out_of_service'];
/** history windows: alarms whose last transition falls in the window */
export const WINDOWS: Record<string, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };

/** `datetime-local` value of an epoch ms, local time */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** The form, filled from the page's query (`hst`, `hsev`, `hsite`, `hw`, `hfrom`, `hto`). */
export function historyFilters(q: URLSearchParams, sites: ReadonlyArray<{ id: string; name: string }>) {
  const hState = el(
    'select',
    { name: 'state', 'aria-label': L('状态', 'state') },
    el('option', { value: '' }, L('全部状态（含已恢复）', 'all states (incl. cleared)')),
    el('option', { value: 'standing' }, L('未恢复（非正常）', 'standing (not normal)')),
    ...ALL_STATES.map((s) => el('option', { value: s }, s === 'normal' ? L('已恢复（正常）', 'cleared (normal)') : stateText(s))),
  );
  const hSev = el('select', { name: 'severity', 'aria-label': L('严重度', 'severity') }, el('option', { value: '' }, L('全部严重度', 'all severities')), ...[1, 2, 3, 4].map((s) => el('option', { value: String(s) }, `≤ ${sevText(s)}`)));
  const hSite = el('select', { name: 'site', 'aria-label': L('站点', 'site') }, el('option', { value: '' }, L('全部站点', 'all sites')), ...sites.map((s) => el('option', { value: s.id }, s.name)));
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

  /** The form as /api/alarms parameters. */
  const params = (): URLSearchParams => {
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
  };
  return { hState, hSev, hSite, hWin, hFrom, hTo, custom, histForm, showCustom, params };
}
