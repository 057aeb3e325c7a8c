/**
 * The plan form: scope from the topology (a 10 kV feeder, transformers or
 * low-voltage lines of one station), window, reason, work order, crew. It
 * saves a draft; the plan's page then shows the customers the server
 * computed, and an operator confirms them before any notice goes out.
 */
import type { Role } from '../api.ts';
import { el } from '../dom.ts';
import { t, type MsgKey } from '../i18n.ts';
import type { TopoIndex } from '../topo.ts';
import { createPlan } from './api.ts';
import { isLate, localInput, localTime, planFromForm, type PlanFormValues } from './model.ts';
import { feedersOfSite } from './text.ts';

export function planForm(topo: TopoIndex, role: Role, now: () => number, site0: string): HTMLElement {
  const sites = topo.topology.sites;
  const siteSel = el('select', { name: 'site', 'aria-label': t('o_site') }, el('option', { value: '' }, t('o_pickSite')), ...sites.map((s) => el('option', { value: s.id }, s.name)));
  siteSel.value = sites.some((s) => s.id === site0) ? site0 : '';
  const kinds = (['feeder', 'transformer', 'line'] as const).map((k) => {
    const r = el('input', { type: 'radio', name: 'kind', value: k });
    return { k, r, label: el('label', { class: 'check' }, r, t(`o_kind_${k}` as MsgKey)) };
  });
  kinds[1]!.r.checked = true;
  const picker = el('div', { class: 'scope-picker' });
  const start = el('input', { type: 'datetime-local', name: 'start', 'aria-label': t('o_start') });
  const end = el('input', { type: 'datetime-local', name: 'end', 'aria-label': t('o_end') });
  // a working day a week and a day ahead, 08:00–12:00: the usual window with the notice lead met
  const d = new Date(now() + 8 * 86_400_000);
  d.setHours(8, 0, 0, 0);
  start.value = localInput(d.getTime());
  end.value = localInput(d.getTime() + 4 * 3_600_000);
  const reason = el('input', { type: 'text', name: 'reason', maxlength: '200', 'aria-label': t('o_reason') });
  const workOrder = el('input', { type: 'text', name: 'workOrder', maxlength: '64', 'aria-label': t('o_workOrder') });
  const crew = el('input', { type: 'text', name: 'crew', maxlength: '100', 'aria-label': t('o_crew') });
  const late = el('p', { class: 'warn', hidden: '' }, t('o_lateWarn', { d: 7 }));
  const errors = el('ul', { class: 'error form-errors', role: 'alert' });
  const submit = el('button', { type: 'submit', class: 'act primary' }, t('o_saveDraft'));
  if (role === 'viewer') submit.disabled = true;

  const kind = () => kinds.find((x) => x.r.checked)?.k ?? 'transformer';
  const paintPicker = () => {
    const site = sites.find((s) => s.id === siteSel.value);
    picker.replaceChildren();
    if (!site) return;
    if (kind() === 'feeder') {
      const fs = feedersOfSite(topo, site.id);
      if (!fs.length) return picker.append(el('p', { class: 'muted' }, t('o_noFeeders')));
      picker.append(el('select', { name: 'feeder', 'aria-label': t('o_kind_feeder') }, el('option', { value: '' }, t('o_pickFeeder')), ...fs.map((f) => el('option', { value: f.id }, f.substation ? t('o_feederAt', { name: f.name, substation: f.substation }) : f.name))));
      return;
    }
    for (const room of site.rooms) {
      const boxes: HTMLElement[] = [];
      for (const tr of room.transformers) {
        if (kind() === 'transformer') boxes.push(el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'transformers', value: tr.id }), tr.name));
        else for (const l of tr.lines) boxes.push(el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'lines', value: l.id }), `${tr.name} / ${l.name}`));
      }
      if (boxes.length) picker.append(el('fieldset', {}, el('legend', {}, room.name), ...boxes));
    }
  };
  const paintLate = () => {
    const s = localTime(start.value);
    late.hidden = Number.isNaN(s) || !isLate(s, now());
  };
  siteSel.addEventListener('change', paintPicker);
  for (const x of kinds) x.r.addEventListener('change', paintPicker);
  start.addEventListener('input', paintLate);
  paintPicker();
  paintLate();

  const row = (k: MsgKey, ...input: Node[]) => el('label', { class: 'frow' }, el('span', { class: 'k' }, t(k)), ...input);
  const form = el(
    'form',
    { class: 'panel plan-form', novalidate: '' },
    el('h2', {}, t('o_newPlan')),
    row('o_site', siteSel),
    el('div', { class: 'frow' }, el('span', { class: 'k' }, t('o_scopeKind')), el('span', { class: 'kinds' }, ...kinds.map((x) => x.label))),
    el('div', { class: 'frow' }, el('span', { class: 'k' }, t('o_scope')), picker),
    row('o_start', start),
    row('o_end', end),
    late,
    row('o_reason', reason),
    row('o_workOrder', workOrder),
    row('o_crew', crew),
    errors,
    el('div', {}, submit),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const fd = new FormData(form);
    const v: PlanFormValues = {
      site: siteSel.value,
      kind: kind(),
      feeder: String(fd.get('feeder') ?? ''),
      transformers: fd.getAll('transformers').map(String),
      lines: fd.getAll('lines').map(String),
      start: start.value,
      end: end.value,
      reason: reason.value,
      workOrder: workOrder.value,
      crew: crew.value,
    };
    const r = planFromForm(v);
    errors.replaceChildren(...r.errors.map((e) => el('li', { 'data-err': e }, t(`o_err_${e}` as MsgKey))));
    if (!r.plan) return;
    submit.disabled = true;
    try {
      const p = await createPlan(r.plan);
      location.hash = `#/outages/plan/${encodeURIComponent(p.id)}`;
    } catch (e) {
      errors.replaceChildren(el('li', {}, (e as Error).message));
      submit.disabled = false;
    }
  });
  return form;
}
