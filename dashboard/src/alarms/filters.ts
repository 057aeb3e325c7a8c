/** The history query's filter form (state incl. cleared, severity, site, window of the last change) and its /api/alarms parameters. */
import { el } from '../dom.ts';
import type { AlarmState } from './store.ts';
import { t } from '../i18n.ts';
import { sevText, stateText } from './text.ts';

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
    { name: 'state', 'aria-label': t('a_state') },
    el('option', { value: '' }, t('a_h_allStates')),
    el('option', { value: 'standing' }, t('a_h_standing')),
    ...ALL_STATES.map((s) => el('option', { value: s }, s === 'normal' ? t('a_h_cleared') : stateText(s))),
  );
  const hSev = el('select', { name: 'severity', 'aria-label': t('a_severity') }, el('option', { value: '' }, t('a_allSeverities')), ...[1, 2, 3, 4].map((s) => el('option', { value: String(s) }, t('a_atMost', { sev: sevText(s) }))));
  const hSite = el('select', { name: 'site', 'aria-label': t('a_h_site') }, el('option', { value: '' }, t('a_h_allSites')), ...sites.map((s) => el('option', { value: s.id }, s.name)));
  const hWin = el(
    'select',
    { name: 'window', 'aria-label': t('a_h_time') },
    ...(['1h', '24h', '7d', '30d', 'custom'] as const).map((v) => el('option', { value: v }, t(`a_h_${v}` as const))),
  );
  const hFrom = el('input', { type: 'datetime-local', name: 'from', 'aria-label': t('a_h_from') });
  const hTo = el('input', { type: 'datetime-local', name: 'to', 'aria-label': t('a_h_to') });
  const custom = el('span', { class: 'custom' }, hFrom, '–', hTo);
  const hGo = el('button', { type: 'submit', class: 'act primary' }, t('a_h_search'));
  const histForm = el('form', { class: 'filters hist-form', 'data-form': 'history' }, hState, hSev, hSite, el('span', { class: 'k' }, t('a_h_lastChange')), hWin, custom, hGo);
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
