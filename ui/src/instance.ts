// One instance: its state, volume, databases, users, backups (with live
// progress, restore into a new instance, delete), a chart of its backups,
// and its recent tasks with their steps and faults. Polls while shown.
import { api, ApiError, type Session } from './api.js';
import { backupChart, volumeGauge, volumeHistory, type BackupPoint } from './chart.js';
import { fill, h } from './dom.js';
import { BACKUP_FIELDS, clearErrors, DATABASE_FIELDS, field, INSTANCE_FIELDS, showError, USER_FIELDS, type FieldPatterns } from './field-errors.js';
import { bytes, seconds, statusClass } from './format.js';
import { configurationSection, logsSection } from './instance-extras.js';
import { address, role, showBanner, statusBadge, type Instance } from './instances.js';
import { poll } from './poll.js';

interface Backup {
  id: string;
  name: string;
  status: string;
  kind: string;
  size_bytes: number;
  created: string;
  created_ms: number;
  seconds: number | null;
  percent: number | null;
  bytes_done: number | null;
}

interface Task {
  id: string;
  kind: string;
  state: string;
  current_step: string;
  error: string | null;
  created: string;
  steps: Array<{ name: string; state: string; attempts: number; error: string | null; seconds: number | null }>;
  progress: { step: string; message: string; percent: number } | null;
}

const POLL_MS = 2000;
const ACCOUNTS_MS = 10_000;
const VOLUME_MS = 5000;
const VOLUME_SAMPLES = 60;
/** Configuration values and the log list change rarely. */
const EXTRAS_MS = 30_000;

/** A small form: fields, an error slot, a submit button; `send` gets the values. */
function miniForm(id: string, title: string, inputs: Array<[label: string, name: string, el: HTMLInputElement]>, submit: string, patterns: FieldPatterns, send: (v: Record<string, string>) => Promise<unknown>): HTMLFormElement {
  const form = h('form', { id, class: 'mini', novalidate: true }, h('h3', {}, title), h('div', { class: 'fields' }, ...inputs.map(([l, n, el]) => field(l, n, el))), h('div', { class: 'form-error' }), h('button', { type: 'submit' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const values = Object.fromEntries(inputs.map(([, n, el]) => [n, el.value.trim()]));
    const button = form.querySelector('button')!;
    button.disabled = true;
    send(values)
      .then(() => {
        for (const [, , el] of inputs) if (el.type !== 'number') el.value = '';
      })
      .catch((err: unknown) => showError(form, err, patterns))
      .finally(() => {
        button.disabled = false;
      });
  });
  return form;
}

const text = (placeholder = ''): HTMLInputElement => h('input', { type: 'text', placeholder });

export function instanceView(main: HTMLElement, s: Session, id: string, unauthorized: () => void): () => void {
  const path = `/instances/${encodeURIComponent(id)}`;
  const banner = h('div', { class: 'banner', hidden: true });
  const title = h('h2', {}, id);
  const summary = h('dl', { class: 'summary' });
  const volume = h('div', { class: 'volume', id: 'volume' }, h('span', { class: 'muted' }, 'volume use: asking the agent...'));
  const spark = h('div', { class: 'spark' });
  const databases = h('ul', { id: 'databases', class: 'items' });
  const users = h('ul', { id: 'users', class: 'items' });
  const backupsBody = h('tbody', {});
  const chart = h('div', { id: 'backup-chart' });
  const tasks = h('div', { id: 'tasks' });
  let inst: Instance | null = null;
  const samples: number[] = [];
  let accountsAt = 0;
  let volumeAt = 0;
  let extrasAt = 0;
  const configuration = configurationSection(s, path);
  const logs = logsSection(s, path);

  const act = (p: Promise<unknown>): Promise<unknown> =>
    p.then(
      (x) => {
        poller.now();
        return x;
      },
      (err: unknown) => {
        poller.now();
        throw err;
      },
    );

  const dbForm = miniForm('create-database', 'Create a database', [['Name', 'name', text('app')]], 'Create database', DATABASE_FIELDS, (v) =>
    act(api(s, 'POST', `${path}/databases`, { databases: [{ name: v.name }] })).then(() => loadAccounts()),
  );
  const userForm = miniForm(
    'create-user',
    'Create a user',
    [['Name', 'name', text('app')], ['Password', 'password', h('input', { type: 'password', autocomplete: 'new-password' })], ['Host', 'host', text('%')]],
    'Create user',
    USER_FIELDS,
    (v) => act(api(s, 'POST', `${path}/users`, { users: [{ name: v.name, password: v.password, ...(v.host ? { host: v.host } : {}) }] })).then(() => loadAccounts()),
  );
  const backupForm = miniForm('create-backup', 'Take a backup', [['Name', 'name', text('nightly')]], 'Back up now', BACKUP_FIELDS, (v) =>
    act(api(s, 'POST', '/backups', { backup: { name: v.name || `backup-${new Date().toISOString().slice(0, 19)}`, instance: id } })),
  );

  fill(
    main,
    banner,
    h('p', {}, h('a', { href: '#/' }, '\u2190 all instances')),
    h('section', { class: 'card' }, title, summary, h('h3', {}, 'Volume'), volume, spark),
    h('div', { class: 'cols' }, h('section', { class: 'card' }, h('h2', {}, 'Databases'), databases, dbForm), h('section', { class: 'card' }, h('h2', {}, 'Users'), users, userForm)),
    h(
      'section',
      { class: 'card' },
      h('h2', {}, 'Backups'),
      h('table', { id: 'backups' }, h('thead', {}, h('tr', {}, ...['Name', 'Status', 'Size', 'Took', 'Taken', ''].map((c) => h('th', {}, c)))), backupsBody),
      backupForm,
      h('h3', {}, 'Sizes (bars) and durations (line) over time'),
      chart,
    ),
    h('section', { class: 'card' }, h('h2', {}, 'Recent tasks'), tasks),
    configuration.el,
    logs.el,
  );

  const renderInstance = (i: Instance): void => {
    fill(title, i.name, ' ', statusBadge(i.status, i.id));
    const rows: Array<[string, Node | string]> = [
      ['Datastore', `${i.datastore.type} ${i.datastore.version}`],
      ['Address', address(i)],
      ['Volume size', `${i.volume.size} GB`],
      ['Role', role(i)],
      ['Datastore state', i.operating_status || '-'],
      ['Id', i.id],
    ];
    if (i.fault) rows.push(['Fault', h('span', { class: 'fault' }, i.fault.message)]);
    fill(summary, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  };

  const loadAccounts = async (): Promise<void> => {
    accountsAt = Date.now();
    if (inst?.status !== 'ACTIVE') return;
    const [d, u] = await Promise.all([api(s, 'GET', `${path}/databases`), api(s, 'GET', `${path}/users`)]);
    databases.replaceChildren(
      ...(d.databases as Array<{ name: string }>).map((x) =>
        h('li', { 'data-database': x.name }, x.name, ' ', h('button', { type: 'button', class: 'danger small', onclick: () => void act(api(s, 'DELETE', `${path}/databases/${encodeURIComponent(x.name)}`)).then(loadAccounts, (err) => showBanner(banner, err)) }, 'Delete')),
      ),
    );
    if (!d.databases.length) databases.replaceChildren(h('li', { class: 'muted' }, 'none'));
    users.replaceChildren(
      ...(u.users as Array<{ name: string; host: string }>).map((x) =>
        h('li', { 'data-user': `${x.name}@${x.host}` }, `${x.name}@${x.host}`, ' ', h('button', { type: 'button', class: 'danger small', onclick: () => void act(api(s, 'DELETE', `${path}/users/${encodeURIComponent(`${x.name}@${x.host}`)}`)).then(loadAccounts, (err) => showBanner(banner, err)) }, 'Delete')),
      ),
    );
    if (!u.users.length) users.replaceChildren(h('li', { class: 'muted' }, 'none'));
  };

  const loadVolume = async (): Promise<void> => {
    volumeAt = Date.now();
    const a = (await api(s, 'GET', `${path}/agent`, undefined, '/ui/api')) as { volume: { data_bytes: number } | null; size_bytes: number; reason?: string };
    if (!a.volume) {
      fill(volume, h('span', { class: 'muted' }, `volume use unknown: ${a.reason ?? 'the agent did not say'}`));
      return;
    }
    samples.push(a.volume.data_bytes);
    if (samples.length > VOLUME_SAMPLES) samples.shift();
    fill(volume, volumeGauge(a.volume.data_bytes, a.size_bytes));
    fill(spark, volumeHistory(samples, a.size_bytes));
  };

  const restoreForm = (b: Backup): HTMLFormElement => {
    const name = h('input', { type: 'text', value: `${inst?.name ?? 'restored'}-restored` });
    const f = h('form', { class: 'inline', 'data-restore': b.id, novalidate: true }, field('New instance', 'name', name), h('div', { class: 'form-error' }), h('button', { type: 'submit' }, 'Restore'));
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      clearErrors(f);
      const i = inst!;
      api(s, 'POST', '/instances', { instance: { name: name.value.trim(), datastore: { type: i.datastore.type, version: i.datastore.version }, ...(i.flavor ? { flavorRef: i.flavor.id } : {}), volume: { size: i.volume.size }, restorePoint: { backupRef: b.id } } })
        .then((r: { instance: { id: string } }) => {
          location.hash = `#/instances/${encodeURIComponent(r.instance.id)}`;
        })
        .catch((err: unknown) => showError(f, err, INSTANCE_FIELDS));
    });
    return f;
  };
  const openRestores = new Map<string, HTMLFormElement>();

  const renderBackups = (list: Backup[]): void => {
    backupsBody.replaceChildren(
      ...[...list].reverse().flatMap((b) => {
        const progress = b.status === 'BUILDING' || b.status === 'NEW' ? h('progress', { max: 100, value: Math.max(0, Math.min(100, b.percent ?? 0)) }) : null;
        const row = h(
          'tr',
          { 'data-backup': b.id, 'data-name': b.name },
          h('td', {}, b.name),
          h('td', {}, statusBadge(b.status), progress, b.percent !== null && progress ? ` ${b.percent.toFixed(0)} %` : null),
          h('td', {}, b.status === 'COMPLETED' ? bytes(b.size_bytes) : b.bytes_done ? bytes(b.bytes_done) : '-'),
          h('td', {}, seconds(b.seconds)),
          h('td', {}, b.created.replace('T', ' ')),
          h(
            'td',
            {},
            b.status === 'COMPLETED'
              ? h('button', { type: 'button', class: 'small', 'data-restore-open': b.id, onclick: () => { if (!openRestores.has(b.id)) openRestores.set(b.id, restoreForm(b)); else openRestores.delete(b.id); renderBackups(list); } }, 'Restore...')
              : null,
            b.status === 'COMPLETED' || b.status === 'FAILED'
              ? h('button', { type: 'button', class: 'danger small', 'data-backup-delete': b.id, onclick: () => void act(api(s, 'DELETE', `/backups/${encodeURIComponent(b.id)}`)).catch((err) => showBanner(banner, err)) }, 'Delete')
              : null,
          ),
        );
        const restore = openRestores.get(b.id);
        return restore ? [row, h('tr', {}, h('td', { colspan: 6 }, restore))] : [row];
      }),
    );
    if (!list.length) backupsBody.replaceChildren(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'no backups yet')));
    const points: BackupPoint[] = list.filter((b) => b.status === 'COMPLETED' && b.seconds !== null).map((b) => ({ at: b.created_ms, sizeBytes: b.size_bytes, seconds: b.seconds!, name: b.name }));
    fill(chart, backupChart(points));
  };

  const renderTasks = (list: Task[]): void => {
    if (!list.length) return fill(tasks, h('p', { class: 'muted' }, 'no tasks yet'));
    fill(
      tasks,
      ...list.map((t) =>
        h(
          'details',
          { class: 'task', 'data-task': t.id, open: t.state !== 'SUCCEEDED' },
          h('summary', {}, statusBadge(t.state), ` ${t.kind} `, h('span', { class: 'muted' }, t.created.replace('T', ' ')), t.state !== 'RUNNING' ? null : t.progress && t.progress.step === t.current_step && t.progress.percent > 0 ? ` ${t.current_step}: ${t.progress.percent.toFixed(0)} %` : ` ${t.current_step || 'waiting'}...`),
          t.error ? h('div', { class: 'fault' }, t.error) : null,
          h('ol', { class: 'steps' }, ...t.steps.map((st) => h('li', { class: statusClass(st.state) }, `${st.name}: ${st.state}`, st.seconds !== null ? ` (${seconds(st.seconds)})` : '', st.attempts > 1 ? `, ${st.attempts} attempts` : '', st.error ? h('div', { class: 'fault' }, st.error) : null))),
        ),
      ),
    );
  };

  const poller = poll(POLL_MS, async () => {
    try {
      const r = (await api(s, 'GET', path)) as { instance: Instance };
      const was = inst?.status;
      inst = r.instance;
      banner.hidden = true;
      renderInstance(inst);
      const a = (await api(s, 'GET', `${path}/activity`, undefined, '/ui/api')) as { tasks: Task[]; backups: Backup[] };
      renderBackups(a.backups);
      renderTasks(a.tasks);
      const now = Date.now();
      if (inst.status === 'ACTIVE' && (was !== 'ACTIVE' || now - accountsAt > ACCOUNTS_MS)) await loadAccounts().catch((err) => showBanner(banner, err));
      if (inst.status !== 'ACTIVE' && was === undefined) {
        databases.replaceChildren(h('li', { class: 'muted' }, `shown when the instance is ACTIVE (it is ${inst.status})`));
        users.replaceChildren(h('li', { class: 'muted' }, `shown when the instance is ACTIVE (it is ${inst.status})`));
      }
      if (now - volumeAt > VOLUME_MS) await loadVolume().catch(() => {});
      if (inst.status === 'ACTIVE' && (was !== 'ACTIVE' || now - extrasAt > EXTRAS_MS)) {
        extrasAt = now;
        await Promise.all([configuration.load(), logs.load()]);
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return unauthorized();
      if (err instanceof ApiError && err.status === 404) {
        fill(title, 'This instance does not exist (any more).');
        summary.replaceChildren();
        return;
      }
      showBanner(banner, err);
    }
  });
  return () => poller.stop();
}
