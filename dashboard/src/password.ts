/** The signed-in user's own password change (POST /api/me/password): a header button and a small form. */
import { ApiError, api } from './api.ts';
import { t } from './i18n.ts';

export interface PasswordUi {
  /** shows the button while signed in; hides button and form otherwise */
  signedIn(yes: boolean): void;
}

export function passwordUi(): PasswordUi {
  const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
  const button = $<HTMLButtonElement>('passwd');
  const form = $<HTMLFormElement>('passwd-form');
  const error = $('passwd-error');
  const done = $('passwd-done');
  let doneTimer: ReturnType<typeof setTimeout> | null = null;
  const close = () => {
    form.hidden = true;
    form.reset();
    error.textContent = '';
  };
  button.addEventListener('click', () => {
    done.hidden = true;
    form.hidden = !form.hidden;
    if (!form.hidden) form.querySelector<HTMLInputElement>('input[name="current"]')?.focus();
  });
  $('passwd-cancel').addEventListener('click', close);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const current = String(data.get('current') ?? '');
    const next = String(data.get('next') ?? '');
    if (next !== String(data.get('repeat') ?? '')) {
      error.textContent = t('pwMismatch');
      return;
    }
    try {
      // the answer sets the new session cookie; every other session of this user has ended
      await api('me/password', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ currentPassword: current, newPassword: next }) });
    } catch (e) {
      const code = e instanceof ApiError ? e.code : '';
      error.textContent =
        code === 'GW_ERR_AUTH_WRONG_PASSWORD' ? t('pwWrong') : code === 'GW_ERR_AUTH_RATE_LIMITED' ? t('rateLimited') : code === 'GW_ERR_HTTP_BAD_REQUEST' ? t('pwTooShort') : t('pwFailed');
      return;
    }
    close();
    done.textContent = t('pwChanged');
    done.hidden = false;
    if (doneTimer) clearTimeout(doneTimer);
    doneTimer = setTimeout(() => (done.hidden = true), 8000);
  });
  return {
    signedIn(yes) {
      button.hidden = !yes;
      if (!yes) {
        close();
        done.hidden = true;
      }
    },
  };
}
