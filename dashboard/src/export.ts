/**
 * CSV downloads: the server streams the file (GET /api/history.csv,
 * /api/alarms.csv); the browser saves it. The page's language picks the
 * column headers; timestamps come in the site's zone (the server's default).
 */
import { el } from './dom.ts';
import { getLang, t } from './i18n.ts';

/** Starts the download of `./api/<route>?<params>&lang=…`; the server names the file. */
export function downloadCsv(route: 'history.csv' | 'alarms.csv' | 'alarm-events.csv', params: URLSearchParams): void {
  const p = new URLSearchParams(params);
  p.set('lang', getLang());
  const a = el('a', { href: `./api/${route}?${p}`, download: '', hidden: '' });
  document.body.append(a);
  a.click();
  a.remove();
}

/** The "Export CSV" button; `params` is read when it is clicked. */
export function exportButton(route: Parameters<typeof downloadCsv>[0], params: () => URLSearchParams | null): HTMLButtonElement {
  const b = el('button', { type: 'button', class: 'act export-csv', 'data-act': 'export-csv' }, t('exportCsv'));
  b.addEventListener('click', () => {
    const p = params();
    if (p) downloadCsv(route, p);
  });
  return b;
}
