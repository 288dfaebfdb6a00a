// The one rules engine over every datastore's table: own-property lookups,
// control characters, each datastore's notation, and a rules file that is
// refused at load rather than at the first request.
import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ParameterError } from '../../../strategies/configuration/parameter-error.js';
import { loadRules, normalizeOverrides, normalizeValue, toParameters, type RuleSet } from '../../../strategies/configuration/rules.js';
import { REPO } from '../../support/agent.js';
import { ruleTable } from '../../../strategies/configuration/tables.js';

const TABLES: Record<string, RuleSet> = {
  mariadb: loadRules(path.join(REPO, 'strategies/configuration/rules/mariadb-10.11.json')),
  mysql: loadRules(path.join(REPO, 'strategies/configuration/rules/mysql-8.0.json')),
  postgresql: loadRules(path.join(REPO, 'strategies/configuration/rules/postgresql-15.json')),
  redis: loadRules(path.join(REPO, 'strategies/configuration/rules/redis-7.0.json')),
};

/** A valid value of each kind, per table, to carry a control character. */
const SAMPLES: Record<string, Record<string, string>> = {
  mariadb: { max_connections: '100', slow_query_log: 'ON', default_storage_engine: 'InnoDB', sql_mode: 'ANSI', long_query_time: '2' },
  mysql: { max_connections: '100', slow_query_log: 'ON', default_storage_engine: 'InnoDB', sql_mode: 'ANSI' },
  postgresql: { work_mem: '16MB', jit: 'on', log_statement: 'ddl', random_page_cost: '1.5' },
  redis: { hz: '10', activerehashing: 'yes', 'maxmemory-policy': 'allkeys-lru', save: '900 1' },
};

const refusal = (fn: () => unknown, name: string): { code: string; message: string } => {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ParameterError)) throw err;
    return { code: err.kind, message: err.message.includes(name) && err.parameter === name ? name : err.message };
  }
  return { code: 'accepted', message: '' };
};

t.test('a name Object.prototype has is unknown in every table', async (t) => {
  const names = Object.getOwnPropertyNames(Object.prototype);
  t.ok(names.includes('constructor') && names.includes('__proto__') && names.includes('toString'));
  for (const [ds, rules] of Object.entries(TABLES)) {
    for (const name of names) {
      t.same(refusal(() => normalizeValue(rules, name, '1'), name), { code: 'INVALID_ARGUMENT', message: name }, `${ds}: ${name}`);
    }
    // A map decoded from JSON holds __proto__ as its own key.
    const hostile = JSON.parse('{"__proto__": "1", "constructor": "1"}') as Record<string, string>;
    t.throws(() => normalizeOverrides(rules, hostile), { name: 'ParameterError' }, `${ds}: a set holding __proto__`);
  }
});

t.test('control characters are refused in every value of every table', async (t) => {
  const CONTROLS = ['\n', '\r', '\0', '\t', '\x0b', '\x0c', '\x1b', '\x7f'];
  for (const [ds, rules] of Object.entries(TABLES)) {
    for (const [name, good] of Object.entries(SAMPLES[ds]!)) {
      t.doesNotThrow(() => normalizeValue(rules, name, good), `${ds}: ${name}=${good} is fine`);
      for (const c of CONTROLS) {
        for (const value of [good + c, c + good, good + c + 'x']) {
          t.same(refusal(() => normalizeValue(rules, name, value), name), { code: 'INVALID_ARGUMENT', message: name }, `${ds}: ${name} with ${JSON.stringify(c)}`);
        }
      }
    }
  }
});

t.test('each datastore is given its own spelling', async (t) => {
  const { mariadb, postgresql, redis } = TABLES;
  t.equal(normalizeValue(mariadb!, 'tmp_table_size', '32M'), String(32 * 1024 ** 2), 'MySQL sizes: K/M/G to a count');
  t.equal(normalizeValue(mariadb!, 'slow_query_log', 'yes'), 'ON');
  t.equal(normalizeValue(mariadb!, 'default_storage_engine', 'innodb'), 'InnoDB', 'allowed values in their table spelling');
  t.throws(() => normalizeValue(mariadb!, 'max_connections', '-5'), { name: 'ParameterError' });
  t.equal(normalizeValue(postgresql!, 'work_mem', '16mb'), '16MB', 'PostgreSQL units in its spelling');
  t.equal(normalizeValue(postgresql!, 'work_mem', '4096'), '4096', 'a count in the base unit');
  t.throws(() => normalizeValue(postgresql!, 'work_mem', '10s'), { name: 'ParameterError' }, 'a unit of the wrong kind');
  t.throws(() => normalizeValue(postgresql!, 'work_mem', '32kB'), { name: 'ParameterError' }, 'bounds in the base unit');
  t.equal(normalizeValue(postgresql!, 'jit', 'TRUE'), 'on');
  t.equal(normalizeValue(redis!, 'activerehashing', 'on'), 'yes', 'Redis booleans are yes/no');
  t.equal(normalizeValue(redis!, 'maxmemory', '32m'), String(32 * 1024 ** 2));
  t.throws(() => normalizeValue(redis!, 'slowlog-log-slower-than', '-5K'), { name: 'ParameterError' }, 'no negative size');
  t.equal(normalizeValue(redis!, 'slowlog-log-slower-than', '-1'), '-1');
  t.equal(toParameters(postgresql!).find((p) => p.name === 'work_mem')?.min, '64kB', 'bounds listed with their unit');
});

t.test('a value out of range is refused naming the parameter and the whole range', async (t) => {
  t.throws(() => normalizeValue(TABLES.mariadb!, 'max_connections', '5'), { parameter: 'max_connections', message: /max_connections must be between 10 and 100000, got "5"/ });
  t.throws(() => normalizeValue(TABLES.postgresql!, 'work_mem', '32kB'), { parameter: 'work_mem', message: /between 64kB and 2147483647kB/ });
});

t.test('the agent and the control find the same table by manager and version', async (t) => {
  t.same(ruleTable('mariadb', '10.11'), TABLES.mariadb);
  t.same(ruleTable('postgresql', '15')?.parameters.work_mem, TABLES.postgresql!.parameters.work_mem);
  t.equal(ruleTable('mariadb', '9.9'), undefined, 'no table for an unknown version');
  t.equal(ruleTable('../mariadb', '10.11'), undefined, 'a name cannot leave the folder');
  t.equal(ruleTable('mariadb', '10.11/../../x'), undefined);
});

t.test('a bad rules file is refused at load', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-rules-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const notation = { booleans: ['ON', 'OFF'], integers: 'size-suffixes' };
  const cases: Array<[string, object]> = [
    ['no notation', { datastore: 'x', version: '1', parameters: {} }],
    ['unknown integer notation', { datastore: 'x', version: '1', notation: { ...notation, integers: 'roman' }, parameters: {} }],
    ['a name that is not an identifier', { datastore: 'x', version: '1', notation, parameters: { 'a = 1\nb': { type: 'integer', dynamic: true } } }],
    ['an unknown type', { datastore: 'x', version: '1', notation, parameters: { a: { type: 'date', dynamic: true } } }],
    ['no dynamic flag', { datastore: 'x', version: '1', notation, parameters: { a: { type: 'integer' } } }],
    ['a free string', { datastore: 'x', version: '1', notation, parameters: { a: { type: 'string', dynamic: true } } }],
    ['a unit without the units notation', { datastore: 'x', version: '1', notation, parameters: { a: { type: 'integer', dynamic: true, unit: 'kB' } } }],
  ];
  for (const [why, table] of cases) {
    const file = path.join(dir, 'r.json');
    writeFileSync(file, JSON.stringify(table));
    t.throws(() => loadRules(file), /rules file/, why);
  }
});
