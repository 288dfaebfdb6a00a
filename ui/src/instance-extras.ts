// The parts of an instance's page that read routes other work adds to the
// control: the configuration values in force (Trove's GET
// /instances/{id}/configuration) and the guest logs (GET /instances/{id}/log).
// A control without the route answers "no such resource": the section then
// says so instead of failing the page.
import { api, ApiError, type Session } from './api.js';
import { fill, h } from './dom.js';
import { bytes, statusClass } from './format.js';

/** A 404 for the route itself (the fault names no instance). */
const missingRoute = (err: unknown): boolean => err instanceof ApiError && err.status === 404 && /no such resource/.test(err.message);

export function configurationSection(s: Session, path: string): { el: HTMLElement; load(): Promise<void> } {
  const body = h('div', { id: 'configuration' }, h('p', { class: 'muted' }, 'shown when the instance is ACTIVE'));
  const filter = h('input', { type: 'search', placeholder: 'filter' });
  let values: Array<[string, string]> = [];
  const render = (): void => {
    const q = filter.value.trim().toLowerCase();
    const rows = values.filter(([k]) => !q || k.toLowerCase().includes(q));
    fill(body, rows.length ? h('table', { class: 'config' }, h('tbody', {}, ...rows.map(([k, v]) => h('tr', { 'data-parameter': k }, h('td', {}, h('code', {}, k)), h('td', {}, v))))) : h('p', { class: 'muted' }, 'no values'));
  };
  filter.addEventListener('input', render);
  return {
    el: h('section', { class: 'card' }, h('h2', {}, 'Configuration in force'), filter, body),
    async load() {
      try {
        const r = (await api(s, 'GET', `${path}/configuration`)) as { instance: { configuration: Record<string, string | number | boolean> } };
        values = Object.entries(r.instance.configuration).map(([k, v]) => [k, String(v)] as [string, string]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
        render();
      } catch (err) {
        fill(body, h('p', { class: 'muted' }, missingRoute(err) ? 'this control does not report configuration values' : (err as Error).message));
      }
    },
  };
}

interface GuestLog {
  name: string;
  type: string;
  status: string;
  published: number;
  pending: number;
}

export function logsSection(s: Session, path: string): { el: HTMLElement; load(): Promise<void> } {
  const body = h('div', { id: 'logs' }, h('p', { class: 'muted' }, 'shown when the instance is ACTIVE'));
  return {
    el: h('section', { class: 'card' }, h('h2', {}, 'Logs'), body),
    async load() {
      try {
        const r = (await api(s, 'GET', `${path}/log`)) as { logs: GuestLog[] };
        fill(
          body,
          r.logs.length
            ? h(
                'table',
                {},
                h('thead', {}, h('tr', {}, ...['Log', 'Type', 'Status', 'Published', 'Pending'].map((c) => h('th', {}, c)))),
                h('tbody', {}, ...r.logs.map((l) => h('tr', { 'data-log': l.name }, h('td', {}, l.name), h('td', {}, l.type), h('td', {}, h('span', { class: `status ${statusClass(l.status === 'Enabled' || l.status === 'Ready' || l.status === 'Published' ? 'ACTIVE' : l.status === 'Disabled' ? 'SHUTDOWN' : l.status)}` }, l.status)), h('td', {}, bytes(l.published)), h('td', {}, bytes(l.pending))))),
              )
            : h('p', { class: 'muted' }, 'no logs'),
        );
      } catch (err) {
        fill(body, h('p', { class: 'muted' }, missingRoute(err) ? 'this control does not serve guest logs yet' : (err as Error).message));
      }
    },
  };
}
