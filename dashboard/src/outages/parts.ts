/** Pieces the outage and plan details share: customers with their delivery, findings, tickets, timeline. */
import { el } from '../dom.ts';
import { t, type MsgKey } from '../i18n.ts';
import { deliveryByCustomer, type Names } from './model.ts';
import { categoryText, findingKindText, journalText, noticeStateText, timeText, verdictText } from './text.ts';
import type { Contact, CustomerRow, Finding, Notice, Ticket, TimelineEntry } from './types.ts';

const th = (k: MsgKey) => el('th', {}, t(k));

export function panel(title: MsgKey | string, body: HTMLElement, extra?: Node, key = typeof title === 'string' ? title : ''): HTMLElement {
  return el('section', { class: 'panel', 'data-part': key }, el('h3', {}, title.startsWith('o_') ? t(title as MsgKey) : title, extra ?? ''), body);
}

function contactCells(cs: Contact[] | number | undefined): Array<Node | string> {
  if (typeof cs === 'number') return [t('o_nContacts', { n: cs })];
  return (cs ?? []).map((k) => el('div', {}, [k.name, k.role].filter(Boolean).join(' · '), ' ', el('span', { class: k.phone ? 'mono' : 'muted' }, k.phone ?? t('o_noPhone'))));
}

/** Every affected customer, its contacts, and how far the notices to them came; failed ones first. */
export function customersTable(affected: readonly CustomerRow[], notices: readonly Notice[] = []): HTMLElement {
  if (!affected.length) return el('div', { class: 'empty small' }, t('o_noCustomers'));
  const rows = deliveryByCustomer(affected, notices).map(({ customer: c, state, notices: ns }) => {
    const contacts = c.contacts;
    // nobody to send to: said on the row, not left as a silent "no notice"
    const unreachable = Array.isArray(contacts) ? !contacts.some((k) => k.phone) : contacts === 0;
    return el(
      'tr',
      { class: `crow${c.important ? ' imp' : ''}`, 'data-customer': c.id, 'data-delivery': state ?? 'none' },
      el('td', {}, c.name, c.important ? el('span', { class: 'badge b-imp' }, t('o_important')) : '', unreachable ? el('span', { class: 'badge b-nocontact' }, t('o_noContact')) : ''),
      el('td', { class: 'mono' }, c.account ?? c.id),
      el('td', {}, categoryText(c.category)),
      el('td', { class: 'contacts' }, ...contactCells(contacts)),
      el('td', {}, el('span', { class: `ns ns-${state ?? 'none'}` }, noticeStateText(state)), ...ns.map((n) => el('small', { class: 'muted phone-state' }, ` ${n.phone} ${noticeStateText(n.state)}`))),
    );
  });
  return el('table', { class: 'otable customers' }, el('thead', {}, el('tr', {}, th('o_customer'), th('o_account'), th('o_category'), th('o_contacts'), th('o_delivery'))), el('tbody', {}, ...rows));
}

/** "12:03 · 231.4 V · 停电事件 o-17" per observation, newest last. */
export function evidenceText(e: Finding['evidence']): string {
  return (e ?? []).map((x) => `${timeText(x.at)} ${x.voltage === null ? '—' : `${x.voltage.toFixed(1)} V`} (${x.outageId})`).join(' · ');
}

/** Where the model has the meter, and where the measurement puts it. */
function placeText(f: Finding, n: Names): string {
  const m = f.modelled ? [n.site(f.modelled.site), n.transformer(f.modelled.site, f.modelled.transformer), f.modelled.line ? n.line(f.modelled.site, f.modelled.line) : ''].filter(Boolean).join(' · ') : '—';
  const g = f.suggested;
  const s = g ? [n.site(g.site), g.feeder ? n.feeder(g.feeder) : '', g.transformer ? n.transformer(g.site, g.transformer) : ''].filter(Boolean).join(' · ') : '';
  return s ? t('o_placeMoved', { m, s }) : t('o_placeModel', { m });
}

/** Findings; with `resolve` (admins) an open finding gets a button and a note field. */
export function findingsTable(list: readonly Finding[], names: Names, resolve?: (f: Finding, note: string) => Promise<void>): HTMLElement {
  if (!list.length) return el('div', { class: 'empty small' }, t('o_noFindings'));
  const rows = list.map((f) => {
    const acts = el('td', { class: 'acts' });
    if (resolve && f.state === 'open') {
      const note = el('input', { type: 'text', class: 'note', placeholder: t('o_resolveNote'), 'aria-label': t('o_resolveNote'), maxlength: '500' });
      const btn = el('button', { type: 'button', class: 'act primary resolve' }, t('o_resolve'));
      const err = el('span', { class: 'error', role: 'alert' });
      btn.addEventListener('click', () => {
        btn.disabled = true;
        resolve(f, note.value.trim()).catch((e: Error) => {
          err.textContent = e.message;
          btn.disabled = false;
        });
      });
      acts.append(note, btn, err);
    } else if (f.state === 'resolved') acts.append(el('span', { class: 'muted small' }, [f.resolvedBy, timeText(f.resolvedAt), f.comment].filter(Boolean).join(' · ')));
    const outageId = f.evidence?.[f.evidence.length - 1]?.outageId;
    return el(
      'tr',
      { class: `frow fs-${f.state}`, 'data-finding': f.id },
      el('td', {}, findingKindText(f.kind)),
      el('td', { class: 'mono' }, f.meter, (f.meterFindings ?? 1) > 1 ? el('small', { class: 'muted times' }, ` ${t('o_findingTimes', { n: f.meterFindings! })}`) : ''),
      el('td', { class: 'time' }, timeText(f.firstAt)),
      // the server's own sentence stays on hover; the row says it with the topology's names
      el('td', { class: 'evidence', title: f.message ?? '' }, el('span', { class: 'place' }, placeText(f, names)), el('small', { class: 'muted' }, evidenceText(f.evidence))),
      el('td', {}, outageId ? el('a', { href: `#/outages/outage/${encodeURIComponent(outageId)}` }, outageId) : ''),
      acts,
    );
  });
  return el('table', { class: 'otable findings' }, el('thead', {}, el('tr', {}, th('o_kind'), th('o_meter'), th('o_found'), th('o_evidence'), th('o_outage'), el('th'))), el('tbody', {}, ...rows));
}

export function ticketsTable(list: readonly Ticket[]): HTMLElement {
  if (!list.length) return el('div', { class: 'empty small' }, t('o_noTickets'));
  const rows = list.map((k) =>
    el(
      'tr',
      { class: `trow v-${k.verdict}`, 'data-ticket': k.id },
      el('td', { class: 'time' }, timeText(k.time)),
      el('td', { class: 'mono' }, k.customer ?? k.meter ?? k.address ?? ''),
      el('td', {}, k.text ?? '', k.evidence ? el('small', { class: 'muted evidence' }, k.evidence) : ''),
      el('td', {}, el('span', { class: `verdict v-${k.verdict}` }, verdictText(k.verdict)), k.repeatCount && k.repeatCount > 1 ? el('span', { class: 'badge b-late' }, t('o_repeat', { n: k.repeatCount })) : ''),
    ),
  );
  return el('table', { class: 'otable tickets' }, el('thead', {}, el('tr', {}, th('o_time'), th('o_customer'), th('o_text'), th('o_verdict'))), el('tbody', {}, ...rows));
}

export function timelineList(list: readonly TimelineEntry[]): HTMLElement {
  const items = [...list].sort((a, b) => a.at - b.at).map((e) => el('li', {}, el('time', {}, timeText(e.at)), ' ', journalText(e), e.by ? el('span', { class: 'muted' }, ` · ${e.by === 'system' ? t('oj_bySystem') : e.by}`) : ''));
  return el('ol', { class: 'timeline' }, ...items);
}
