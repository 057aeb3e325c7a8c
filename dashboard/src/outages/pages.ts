/** The CSV import of plans (rejected rows shown with their line and reason) and the findings list. */
import type { Role } from '../api.ts';
import { el } from '../dom.ts';
import { t } from '../i18n.ts';
import { importPlans, listFindings, resolveFinding } from './api.ts';
import type { Names } from './model.ts';
import { findingsTable } from './parts.ts';

export function importPage(): HTMLElement {
  const file = el('input', { type: 'file', accept: '.csv,text/csv', 'aria-label': t('o_importTitle') });
  const text = el('textarea', { rows: '8', class: 'csv', spellcheck: 'false', 'aria-label': t('o_importTitle') });
  const go = el('button', { type: 'button', class: 'act primary' }, t('o_importDo'));
  const out = el('div', { class: 'import-result', role: 'status' });
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (f) text.value = await f.text();
  });
  go.addEventListener('click', async () => {
    go.disabled = true;
    out.replaceChildren();
    try {
      const r = await importPlans(text.value);
      const rows = r.rejected.map((x) => el('tr', { 'data-line': String(x.line) }, el('td', { class: 'num' }, String(x.line)), el('td', {}, x.reason)));
      out.append(
        el('p', { class: r.rejected.length ? 'error' : 'ok' }, r.rejected.length ? t('o_importNone') : t('o_imported', { n: r.imported })),
        ...(rows.length ? [el('h3', {}, t('o_rejected')), el('table', { class: 'otable rejected' }, el('thead', {}, el('tr', {}, el('th', {}, t('o_lineNo')), el('th', {}, t('o_rowReason')))), el('tbody', {}, ...rows))] : []),
      );
    } catch (e) {
      out.append(el('p', { class: 'error' }, t('o_loadFailed', { msg: (e as Error).message })));
    } finally {
      go.disabled = false;
    }
  });
  return el('div', { class: 'panel import' }, el('h2', {}, t('o_importTitle')), el('p', { class: 'muted' }, t('o_importHint')), file, text, el('div', {}, go), out);
}

export type FindingsState = 'open' | 'resolved' | 'history';
const FINDINGS_LABEL = { open: 'o_findingsOpen', resolved: 'o_findingsResolved', history: 'o_findingsHistory' } as const;

/** open: the open finding per meter; resolved: the last resolved one per meter; history: every finding ever made */
export function findingsPage(role: Role, names: Names, state: FindingsState, setState: (s: FindingsState) => void): { root: HTMLElement; refresh(): Promise<void> } {
  const seg = el('span', { class: 'seg', role: 'group' });
  for (const s of ['open', 'resolved', 'history'] as const) {
    const b = el('button', { type: 'button', 'data-state': s, class: s === state ? 'on' : '' }, t(FINDINGS_LABEL[s]));
    b.addEventListener('click', () => setState(s));
    seg.append(b);
  }
  const body = el('div', {}, el('div', { class: 'empty' }, t('loading')));
  const root = el('section', { class: 'panel findings-page', 'data-state': state }, el('h3', {}, t('o_tab_findings'), seg), body);
  const page = {
    root,
    async refresh() {
      try {
        const list = await listFindings(state);
        const resolve = role === 'admin' ? async (f: { id: string }, note: string) => {
          await resolveFinding(f.id, note);
          await page.refresh();
        } : undefined;
        body.replaceChildren(findingsTable(list, names, resolve));
      } catch (e) {
        body.replaceChildren(el('div', { class: 'empty error', role: 'alert' }, t('o_loadFailed', { msg: (e as Error).message })));
      }
    },
  };
  return page;
}
