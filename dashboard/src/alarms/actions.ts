/**
 * The operator's action form under an alarm's row: acknowledge, shelve (for
 * 15 min to 24 h, with a reason), comment; admins also take the alarm out of
 * service and return it. A required text left empty is refused here; the
 * server's error is shown in the row.
 */
import { el } from '../dom.ts';
import { alarmApi, type AlarmView } from './store.ts';
import { t, type MsgKey } from '../i18n.ts';

/** the open form as the console keeps it: what was typed survives a repaint */
export interface ActionFormState {
  id: string;
  kind: string;
  /** its input was focused once (a repaint must not steal the focus again) */
  focused?: boolean;
  text?: string;
  forS?: string;
}

export interface ActionFormHooks {
  /** the open form's state (null once closed) */
  state(): ActionFormState | null;
  /** runs the call and shows the answer; false (and the message in `errEl`) on failure */
  run(fn: () => Promise<{ alarm: AlarmView }>, errEl?: HTMLElement): Promise<boolean>;
  /** the action succeeded: close the form */
  done(a: AlarmView): void;
}

/** each form's heading, input hint and submit button (message keys), and whether its text is required */
const FORM: Record<string, { title: MsgKey; placeholder: MsgKey; submit: MsgKey; required: boolean }> = {
  ack: { title: 'a_f_ack', placeholder: 'a_f_ackHint', submit: 'a_f_ackDo', required: false },
  shelve: { title: 'a_f_shelve', placeholder: 'a_f_shelveHint', submit: 'a_f_shelveDo', required: true },
  comment: { title: 'a_f_comment', placeholder: 'a_f_commentHint', submit: 'a_f_commentDo', required: true },
  oos: { title: 'a_f_oos', placeholder: 'a_f_oosHint', submit: 'a_f_oosDo', required: true },
  ris: { title: 'a_f_ris', placeholder: 'a_f_risHint', submit: 'a_f_risDo', required: false },
};

export function actionFormRow(a: AlarmView, kind: string, hooks: ActionFormHooks): HTMLElement {
  const form = hooks.state();
  const spec = FORM[kind] ?? FORM.comment!;
  const err = el('span', { class: 'error' });
  const text = el('input', { type: 'text', name: 'text', maxlength: '4000', placeholder: t(spec.placeholder) });
  const mins = el('select', { name: 'for' }, ...[15, 60, 240, 480, 1440].map((m) => el('option', { value: String(m * 60) }, m < 60 ? t('a_f_minutes', { n: m }) : t('a_f_hours', { n: m / 60 }))));
  // a repaint rebuilds the row: what was typed or chosen is kept in `form`
  mins.value = form?.forS ?? '3600';
  text.value = form?.text ?? '';
  const keep = () => {
    const now = hooks.state();
    if (now) Object.assign(now, { text: text.value, forS: mins.value });
  };
  text.addEventListener('input', keep);
  mins.addEventListener('change', keep);
  const ok = el('button', { type: 'submit', class: 'act primary' }, t(spec.submit));
  const f = el('form', { class: 'act-form', 'data-form': kind }, el('span', {}, t(spec.title)), kind === 'shelve' ? mins : '', text, ok, err);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = text.value.trim();
    if (spec.required && !v) return void (err.textContent = t('a_f_required'));
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
    const done = await hooks.run(call, err);
    ok.disabled = false;
    if (done) {
      // the form is gone: its input must not hold back the repaint
      if (f.contains(document.activeElement)) (document.activeElement as HTMLElement).blur();
      hooks.done(a);
    }
  });
  if (form && !form.focused) {
    form.focused = true;
    queueMicrotask(() => text.focus());
  }
  return el('tr', { class: 'form-row' }, el('td', { colspan: '9' }, f));
}
