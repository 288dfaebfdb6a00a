// The sign-in form: an API token, checked with the control, kept in this
// tab's sessionStorage (api.ts). The field is a password field, so the token
// is not shown on screen, and the form is never submitted as a URL.
import { ApiError, signIn, type Session } from './api.js';
import { fill, h } from './dom.js';

export function signInView(root: HTMLElement, done: (s: Session) => void, notice = ''): () => void {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'API token' });
  const message = h('div', { class: 'form-error', id: 'sign-in-error' }, notice ? h('span', { role: 'alert' }, notice) : null);
  const form = h(
    'form',
    { class: 'card sign-in', method: 'post', action: '#', novalidate: true },
    h('h1', {}, 'Coffer'),
    h('p', {}, 'Sign in with an API token of your project (', h('code', {}, 'coffer-control token create --project NAME'), ' prints one). It stays in this tab only.'),
    h('label', { for: 'token' }, 'API token'),
    input,
    message,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    fill(message);
    const button = form.querySelector('button')!;
    button.disabled = true;
    signIn(input.value)
      .then((s) => {
        input.value = '';
        done(s);
      })
      .catch((err: unknown) => {
        fill(message, h('span', { role: 'alert' }, err instanceof ApiError ? err.message : String(err)));
        input.select();
      })
      .finally(() => {
        button.disabled = false;
      });
  });
  fill(root, form);
  input.focus();
  return () => {};
}
