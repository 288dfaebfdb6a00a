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

function route(): void {
  leave();
  leave = () => {};
  const s = currentSession();
  if (!s) {
    leave = signInView(root, () => route());
    return;
  }
  const main = h('main', {});
  fill(root, header(s), main);
  const m = /^#\/instances\/([^/]+)$/.exec(location.hash);
  leave = m ? instanceView(main, s, decodeURIComponent(m[1]!), () => { signOut(); route(); }) : instancesView(main, s, () => { signOut(); route(); });
}

window.addEventListener('hashchange', route);
route();
