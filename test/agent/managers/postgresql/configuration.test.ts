// Configuration overrides against a real postgres: the rules file checked
// against the server's own pg_settings, live and restart-only changes,
// persistence, reset, and refused values.
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { startAgent, call, collect, waitFor, REPO, type AgentProcess } from '../../../support/agent.js';
import { psql, psqlAdmin, SHOP_PREPARE } from '../../../support/psql.js';
import { DatastoreState, type GetStatusResponse } from '../../../../proto/gen/coffer/agent/v1/lifecycle.js';
import type { GetConfigurationResponse, ListParametersResponse, UpdateOverridesResponse } from '../../../../proto/gen/coffer/agent/v1/configuration.js';

const PREPARE = SHOP_PREPARE;

interface Rule { type: string; min?: number; max?: number; unit?: string; allowed?: string[]; dynamic: boolean }
const RULES = JSON.parse(readFileSync(path.join(REPO, 'strategies/configuration/rules/postgresql-15.json'), 'utf8')) as { parameters: Record<string, Rule> };

const cfg = <Res>(a: AgentProcess, method: string, req: object) => call<object, Res>(a.clients.configuration, method, req);
const status = (a: AgentProcess) => call<object, GetStatusResponse>(a.clients.lifecycle, 'getStatus', {});
const show = async (a: AgentProcess, name: string) => (await psql(a.datastorePort, 'alice', 'Al1ce-pass', `SHOW ${name}`, 'shop')).stdout;

t.test('configuration', async (t) => {
  const agent = await startAgent(t, { datastore: 'postgresql' });
  await collect(agent.clients.lifecycle.prepare(PREPARE));
  const autoConf = () => readFileSync(path.join(agent.baseDir, 'data', 'postgresql.auto.conf'), 'utf8');

  await t.test('the rules file agrees with the server (pg_settings)', async (t) => {
    const names = Object.keys(RULES.parameters);
    const r = await psqlAdmin(agent.baseDir, agent.datastorePort,
      `SELECT json_agg(json_build_object('name', name, 'vartype', vartype, 'context', context, 'unit', unit, 'min', min_val, 'max', max_val, 'enumvals', enumvals)) FROM pg_settings WHERE name IN (${names.map((n) => `'${n}'`).join(',')})`);
    const settings = new Map((JSON.parse(r.stdout) as Array<Record<string, unknown>>).map((s) => [s.name as string, s]));
    const TYPES: Record<string, string> = { bool: 'boolean', integer: 'integer', real: 'float', enum: 'string' };
    for (const [name, rule] of Object.entries(RULES.parameters)) {
      const s = settings.get(name);
      if (!t.ok(s, `${name} exists in PostgreSQL 15`)) continue;
      t.equal(rule.type, TYPES[s!.vartype as string], `${name}: type`);
      t.equal(rule.dynamic, s!.context !== 'postmaster', `${name}: dynamic unless context is postmaster (${s!.context})`);
      t.equal(rule.unit ?? null, s!.unit ?? null, `${name}: unit`);
      if (rule.min !== undefined) t.ok(rule.min >= Number(s!.min), `${name}: min within the server's`);
      if (rule.max !== undefined) t.ok(rule.max <= Number(s!.max), `${name}: max within the server's`);
      if (rule.allowed) t.ok(rule.allowed.every((v) => (s!.enumvals as string[]).includes(v)), `${name}: allowed values are the server's`);
    }
    const list = await cfg<ListParametersResponse>(agent, 'listParameters', {});
    t.equal(list.datastore, 'postgresql');
    t.equal(list.datastoreVersion, '15');
    const byName = new Map(list.parameters.map((p) => [p.name, p]));
    t.equal(byName.get('max_connections')?.dynamic, false);
    t.equal(byName.get('work_mem')?.dynamic, true);
    t.equal(byName.get('work_mem')?.min, '64kB');
  });

  await t.test('live changes apply at once and persist', async (t) => {
    const r = await cfg<UpdateOverridesResponse>(agent, 'updateOverrides', { overrides: { work_mem: '16mb', log_statement: 'DDL', random_page_cost: '1.5' }, replace: false });
    t.equal(r.restartRequired, false);
    t.same(r.changes.map((c) => [c.name, c.value, c.appliedLive, c.restartRequired]).sort(), [
      ['log_statement', 'ddl', true, false],
      ['random_page_cost', '1.5', true, false],
      ['work_mem', '16MB', true, false],
    ]);
    await waitFor('work_mem to apply', async () => (await show(agent, 'work_mem')) === '16MB', 10_000);
    t.equal(await show(agent, 'random_page_cost'), '1.5');
    t.match(autoConf(), /work_mem = '16MB'/, 'persisted by ALTER SYSTEM');
    const get = await cfg<GetConfigurationResponse>(agent, 'getConfiguration', {});
    t.equal(get.values.work_mem, '16MB');
    t.same(get.overrides, { work_mem: '16MB', log_statement: 'ddl', random_page_cost: '1.5' });
    t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE, 'no restart needed');
  });

  await t.test('a restart-only change waits for a restart, and survives it', async (t) => {
    const r = await cfg<UpdateOverridesResponse>(agent, 'updateOverrides', { overrides: { max_connections: '120' }, replace: false });
    t.equal(r.restartRequired, true);
    t.same(r.changes, [{ name: 'max_connections', value: '120', appliedLive: false, restartRequired: true }]);
    const s = await status(agent);
    t.equal(s.state, DatastoreState.DATASTORE_STATE_RESTART_REQUIRED);
    t.same(s.pendingRestart, ['max_connections']);
    t.equal(await show(agent, 'max_connections'), '100', 'not yet in force');
    await call(agent.clients.lifecycle, 'restart', {});
    t.equal((await status(agent)).state, DatastoreState.DATASTORE_STATE_ACTIVE);
    t.equal(await show(agent, 'max_connections'), '120', 'in force after the restart');
    t.equal(await show(agent, 'work_mem'), '16MB', 'earlier overrides persisted across the restart');
  });

  await t.test('bad values are refused and change nothing', async (t) => {
    const before = autoConf();
    const bad: Array<[string, Record<string, string>]> = [
      ['unknown parameter', { no_such_thing: '1' }],
      ['agent-managed parameter', { port: '5433' }],
      ['agent-managed parameter', { listen_addresses: '*' }],
      ['newline injection', { log_statement: "all\nlisten_addresses = '*'" }],
      ['newline in a number', { work_mem: '4MB\nport = 1' }],
      ['quote injection', { log_statement: "all' listen_addresses='*" }],
      ['below min', { work_mem: '32kB' }],
      ['above max', { max_connections: '100000' }],
      ['not a number', { work_mem: 'lots' }],
      ['unit of the wrong kind', { work_mem: '10s' }],
      ['not a boolean', { jit: 'maybe' }],
      ['not an allowed value', { huge_pages: 'on' }],
      ['one good one bad', { work_mem: '32MB', jit: 'maybe' }],
    ];
    for (const [why, overrides] of bad) {
      await t.rejects(cfg(agent, 'updateOverrides', { overrides, replace: false }), { code: Status.INVALID_ARGUMENT }, why);
    }
    t.equal(autoConf(), before, 'postgresql.auto.conf unchanged');
    const get = await cfg<GetConfigurationResponse>(agent, 'getConfiguration', {});
    t.equal(get.overrides.work_mem, '16MB', 'overrides unchanged');
    t.notMatch(readFileSync(path.join(agent.baseDir, 'etc', 'postgresql.conf'), 'utf8'), /listen_addresses = '\*'/);
  });

  await t.test('replace and reset', async (t) => {
    const r = await cfg<UpdateOverridesResponse>(agent, 'updateOverrides', { overrides: { jit: 'off' }, replace: true });
    t.same(r.changes.map((c) => c.name).sort(), ['jit', 'log_statement', 'max_connections', 'random_page_cost', 'work_mem']);
    t.equal(r.restartRequired, true, 'max_connections goes back to its default at the next restart');
    await waitFor('work_mem to reset', async () => (await show(agent, 'work_mem')) === '4MB', 10_000);
    t.equal(await show(agent, 'jit'), 'off');
    const reset = await cfg<UpdateOverridesResponse>(agent, 'resetConfiguration', {});
    t.same(reset.changes.map((c) => c.name), ['jit']);
    await waitFor('jit to reset', async () => (await show(agent, 'jit')) === 'on', 10_000);
    const get = await cfg<GetConfigurationResponse>(agent, 'getConfiguration', {});
    t.same(get.overrides, {});
    t.notMatch(autoConf(), /=/, 'postgresql.auto.conf holds no settings');
    await call(agent.clients.lifecycle, 'restart', {});
    t.equal(await show(agent, 'max_connections'), '100', 'back to the template after a restart');
  });
});
