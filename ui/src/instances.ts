// The project's instances: a table updated every two seconds, a create form
// and a delete button per row.
import { api, ApiError, type Session } from './api.js';
import { fill, h } from './dom.js';
import { clearErrors, field, INSTANCE_FIELDS, showError } from './field-errors.js';
import { bytes, statusClass } from './format.js';
import { poll } from './poll.js';

export interface Instance {
  id: string;
  name: string;
  status: string;
  operating_status?: string;
  datastore: { type: string; version: string };
  volume: { size: number };
  ip?: string[];
  port?: number | null;
  replica_of?: { id: string; name?: string };
  replicas?: Array<{ id: string; name?: string }>;
  fault?: { message: string };
  flavor?: { id: string };
  created?: string;
}

const POLL_MS = 2000;
/** Statuses in which a task runs on the instance (Trove's names). */
const BUSY = new Set(['BUILD', 'REBOOT', 'RESIZE', 'BACKUP', 'SHUTDOWN', 'PROMOTE', 'EJECT', 'DETACH']);
/** The volume use comes from each agent: asked less often than the table. */
const VOLUME_MS = 10_000;

export function role(i: Instance): string {
  if (i.replica_of) return `replica of ${i.replica_of.name ?? i.replica_of.id}`;
  if (i.replicas?.length) return `source of ${i.replicas.length}`;
  return 'standalone';
}

export const address = (i: Instance): string => (i.ip?.[0] ? `${i.ip[0]}${i.port ? `:${i.port}` : ''}` : '-');

export function statusBadge(status: string, id?: string): HTMLElement {
  return h('span', { class: `status ${statusClass(status)}`, ...(id ? { 'data-status-of': id } : {}) }, status);
}

export function instancesView(main: HTMLElement, s: Session, unauthorized: () => void): () => void {
  const error = h('div', { class: 'banner', hidden: true });
  const tbody = h('tbody', {});
  const table = h(
    'table',
    { id: 'instances' },
    h('thead', {}, h('tr', {}, ...['Name', 'Datastore', 'Status', 'Address', 'Volume', 'Role', ''].map((c) => h('th', {}, c)))),
    tbody,
  );
  const empty = h('p', { class: 'muted', id: 'no-instances', hidden: true }, 'No instances in this project yet.');
  const used = new Map<string, { at: number; bytes: number | null }>();
  /** What a busy instance's running task is doing (its step, and percent when it reports one). */
  const doing = new Map<string, string>();
  fill(main, error, h('section', { class: 'card' }, h('h2', {}, 'Instances'), table, empty), createForm(s, () => poller.now()));

  const armed = new Set<string>();
  const render = (list: Instance[]): void => {
    empty.hidden = list.length > 0;
    const rows = list.map((i) => {
      const v = used.get(i.id);
      const size = i.volume.size * 1024 ** 3;
      const del = h('button', { type: 'button', class: armed.has(i.id) ? 'danger armed' : 'danger', 'data-delete': i.id }, armed.has(i.id) ? 'Confirm delete' : 'Delete');
      del.addEventListener('click', () => {
        if (!armed.has(i.id)) {
          armed.add(i.id);
          render(list);
          return;
        }
        armed.delete(i.id);
        api(s, 'DELETE', `/instances/${encodeURIComponent(i.id)}`)
          .catch((err: unknown) => showBanner(error, err))
          .finally(() => poller.now());
      });
      return h(
        'tr',
        { 'data-instance': i.id, 'data-name': i.name },
        h('td', {}, h('a', { href: `#/instances/${encodeURIComponent(i.id)}` }, i.name)),
        h('td', {}, `${i.datastore.type} ${i.datastore.version}`),
        h('td', {}, statusBadge(i.status, i.id), doing.has(i.id) && BUSY.has(i.status) ? h('div', { class: 'muted doing' }, doing.get(i.id)!) : null, i.fault ? h('div', { class: 'fault' }, i.fault.message) : null),
        h('td', {}, address(i)),
        h('td', {}, v?.bytes !== null && v?.bytes !== undefined ? `${bytes(v.bytes)} / ${bytes(size)}` : `- / ${bytes(size)}`),
        h('td', {}, role(i)),
        // Trove shows a deleting instance as SHUTDOWN too: the button stays, and a refusal says why.
        h('td', {}, del),
      );
    });
    tbody.replaceChildren(...rows);
  };

  const poller = poll(POLL_MS, async () => {
    try {
      const r = (await api(s, 'GET', '/instances/detail')) as { instances: Instance[] };
      error.hidden = true;
      const now = Date.now();
      // A busy instance's task progress, asked together: one request each.
      await Promise.all(
        r.instances.filter((i) => BUSY.has(i.status)).map((i) =>
          api(s, 'GET', `/instances/${encodeURIComponent(i.id)}/activity`, undefined, '/ui/api')
            .then((a: { tasks: Array<{ state: string; current_step: string; progress: { step: string; percent: number } | null }> }) => {
              const t = a.tasks.find((x) => x.state === 'RUNNING');
              if (!t) return doing.delete(i.id);
              const pct = t.progress && t.progress.step === t.current_step && t.progress.percent > 0 ? ` ${t.progress.percent.toFixed(0)} %` : '';
              doing.set(i.id, `${t.current_step || 'waiting'}${pct}`);
            })
            .catch(() => doing.delete(i.id)),
        ),
      );
      for (const i of r.instances) {
        const v = used.get(i.id);
        if (i.status === 'ACTIVE' && (!v || now - v.at > VOLUME_MS)) {
          used.set(i.id, { at: now, bytes: v?.bytes ?? null });
          api(s, 'GET', `/instances/${encodeURIComponent(i.id)}/agent`, undefined, '/ui/api')
            .then((a: { volume: { data_bytes: number } | null }) => used.set(i.id, { at: now, bytes: a.volume ? a.volume.data_bytes : null }))
            .catch(() => {});
        }
      }
      render(r.instances);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return unauthorized();
      showBanner(error, err);
    }
  });
  return () => poller.stop();
}

export function showBanner(el: HTMLElement, err: unknown): void {
  el.hidden = false;
  fill(el, h('span', { role: 'alert' }, err instanceof Error ? err.message : String(err)));
}

interface Datastore {
  name: string;
  versions: Array<{ name: string; active: boolean }>;
}

/** Create an instance: datastore and version, flavor, volume, a first database; the control's refusal shown next to its field. */
function createForm(s: Session, created: () => void): HTMLElement {
  const name = h('input', { type: 'text', maxlength: 255, placeholder: 'my-db' });
  const datastore = h('select', {});
  const version = h('select', {});
  const flavor = h('select', {});
  const volume = h('input', { type: 'number', min: 1, value: 1 });
  const databases = h('input', { type: 'text', placeholder: 'optional, comma separated' });
  const form = h(
    'form',
    { class: 'card', id: 'create-instance', novalidate: true },
    h('h2', {}, 'Create an instance'),
    h('div', { class: 'fields' }, field('Name', 'name', name), field('Datastore', 'datastore', datastore), field('Version', 'version', version), field('Flavor', 'flavor', flavor), field('Volume (GB)', 'volume', volume), field('Databases', 'databases', databases)),
    h('div', { class: 'form-error' }),
    h('button', { type: 'submit' }, 'Create'),
  );
  let stores: Datastore[] = [];
  const fillVersions = (): void => {
    const d = stores.find((x) => x.name === datastore.value);
    version.replaceChildren(...(d?.versions ?? []).filter((v) => v.active).map((v) => h('option', { value: v.name }, v.name)));
  };
  datastore.addEventListener('change', fillVersions);
  void api(s, 'GET', '/datastores')
    .then((r: { datastores: Datastore[] }) => {
      stores = r.datastores;
      datastore.replaceChildren(...stores.map((d) => h('option', { value: d.name }, d.name)));
      fillVersions();
    })
    .catch((err: unknown) => showError(form, err, INSTANCE_FIELDS));
  void api(s, 'GET', '/flavors')
    .then((r: { flavors: Array<{ id: string; name: string; ram: number; vcpus: number }> }) => {
      flavor.replaceChildren(...r.flavors.map((f) => h('option', { value: f.id }, `${f.name} (${f.vcpus} vCPU, ${f.ram} MB)`)));
    })
    .catch((err: unknown) => showError(form, err, INSTANCE_FIELDS));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const dbs = databases.value.split(',').map((x) => x.trim()).filter(Boolean);
    const body = {
      instance: {
        name: name.value.trim(),
        datastore: { type: datastore.value || null, version: version.value || null },
        ...(flavor.value ? { flavorRef: flavor.value } : {}),
        volume: { size: volume.value.trim() },
        ...(dbs.length ? { databases: dbs.map((n) => ({ name: n })) } : {}),
      },
    };
    const button = form.querySelector('button')!;
    button.disabled = true;
    api(s, 'POST', '/instances', body)
      .then(() => {
        name.value = '';
        databases.value = '';
        created();
      })
      .catch((err: unknown) => showError(form, err, INSTANCE_FIELDS))
      .finally(() => {
        button.disabled = false;
      });
  });
  return form;
}
