/**
 * The operator's action form under an alarm's row: acknowledge, shelve (for
 * 15 min to 24 h, with a reason), comment; admins also take the alarm out of
 * service and return it. A required text left empty is refused here; the
 * server's error is shown in the row.
 */
import { el } from '../dom.ts';
import { alarmApi, type AlarmView } from './store.ts';
import { L } from './text.ts';

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

const FORM: Record<string, { title: () => string; placeholder: () => string; submit: () => string; required: boolean }> = {
  ack: { title: () => L('确认', 'Acknowledge'), placeholder: () => L('确认备注（可选）', 'comment (optional)'), submit: () => L('确认', 'Acknowledge'), required: false },
  shelve: { title: () => L('搁置至', 'Shelve for'), placeholder: () => L('搁置原因（必填）', 'reason (required)'), submit: () => L('搁置', 'Shelve'), required: true },
  comment: { title: () => L('备注', 'Comment'), placeholder: () => L('备注（必填）', 'comment (required)'), submit: () => L('提交', 'Add'), required: true },
  oos: { title: () => L('停用（检修）', 'Out of service'), placeholder: () => L('停用原因（必填）', 'reason (required)'), submit: () => L('停用', 'Remove'), required: true },
  ris: { title: () => L('恢复服务', 'Return to service'), placeholder: () => L('备注（可选）', 'comment (optional)'), submit: () => L('恢复服务', 'Return'), required: false },
};

export function actionFormRow(a: AlarmView, kind: string, hooks: ActionFormHooks): HTMLElement {
  const form = hooks.state();
  const spec = FORM[kind] ?? FORM.comment!;
  const err = el('span', { class: 'error' });
  const text = el('input', { type: 'text', name: 'text', maxlength: '4000', placeholder: spec.placeholder() });
  const mins = el('select', { name: 'for' }, ...[15, 60, 240, 480, 1440].map((m) => el('option', { value: String(m * 60) }, m < 60 ? `${m} ${L('分钟', 'min')}` : `${m / 60} ${L('小时', 'h')}`)));
  // a repaint rebuilds the row: what was typed or chosen is kept in `form`
  mins.value = form?.forS ?? '3600';
  text.value = form?.text ?? '';
  const keep = () => {
    const now = hooks.state();
    if (now) Object.assign(now, { text: text.value, forS: mins.value });
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
