// The dashboard's entry: sign-in, then the instances list (#/) or one
// instance (#/instances/ID). The hash holds only which page is shown.
import { currentSession, signOut, type Session } from './api.js';
import { fill, h } from './dom.js';
import { instanceView } from './instance.js';
import { instancesView } from './instances.js';
import { signInView } from './sign-in.js';

const root = document.getElementById('app')!;
let leave: () => void = () => {};

function header(s: Session): HTMLElement {
  return h(
    'header',
    { class: 'top' },
    h('a', { href: '#/', class: 'brand' }, 'Coffer'),
    h('span', { class: 'project' }, 'project ', h('strong', { id: 'project' }, s.project)),
    h('button', { type: 'button', id: 'sign-out', class: 'link', onclick: () => { signOut(); location.hash = '#/'; route(); } }, 'Sign out'),
  );
}

/** The control stopped accepting the token (a new data dir, say): sign in again. */
const expired = (): void => {
  signOut();
  route('The control no longer accepts this token: sign in again.');
};

function route(notice = ''): void {
  leave();
  leave = () => {};
  const s = currentSession();
  if (!s) {
    leave = signInView(root, () => route(), notice);
    return;
  }
  const main = h('main', {});
  fill(root, header(s), main);
  const m = /^#\/instances\/([^/]+)$/.exec(location.hash);
  leave = m ? instanceView(main, s, decodeURIComponent(m[1]!), expired) : instancesView(main, s, expired);
}

window.addEventListener('hashchange', () => route());
route();
