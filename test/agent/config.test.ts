import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileAgentConfig, ConfigError, parseHostPort, isLoopback } from '../../agent/config.js';
import { MANAGERS } from '../../agent/managers/registry.js';

t.test('compiled configuration: defaults, flags over file, frozen', async (t) => {
  const c = compileAgentConfig({ listen: '127.0.0.1:9000', datastorePort: 3310 }, { insecure: true, listen: '127.0.0.1:9001', baseDir: '/tmp/x' }, MANAGERS);
  t.equal(c.listenPort, 9001, 'a flag wins over the file');
  t.equal(c.datastorePort, 3310);
  t.equal(c.datastore, 'mariadb');
  t.equal(c.datastoreVersion, '10.11');
  t.equal(c.backup.storages.local?.root, '/tmp/x/backups');
  t.ok(Object.isFrozen(c));
});

t.test('every bad value is refused naming the field', async (t) => {
  const bad: Array<[object, RegExp]> = [
    [{ insecure: true, datastore: 'oracle' }, /datastore "oracle" is not known/],
    [{ insecure: true, nonsense: 1 }, /unknown config key "nonsense"/],
    [{ insecure: true, version: 2 }, /config version 2 is not 1/],
    [{ insecure: true, datastorePort: 0 }, /datastorePort/],
    [{ insecure: true, datastoreBind: 'localhost' }, /datastoreBind must be an IP/],
    [{ insecure: true, logLevel: 'loud' }, /logLevel/],
    [{ insecure: true, instanceId: '../x' }, /instanceId/],
    [{ insecure: true, listen: '[::1]:99999' }, /port must be/],
    [{ insecure: true, listen: '10.0.0.1:8790' }, /loopback/],
    [{ insecure: true, backup: { defaultStorage: 'swift' } }, /backup.storages.swift is not configured/],
    [{ insecure: true, backup: { storages: { ftp: {} } } }, /not a storage strategy/],
    [{ insecure: true, dataVolume: { devicePath: 'vdb', mountPoint: '/var/lib/coffer' } }, /dataVolume.devicePath must be an absolute path/],
    [{ insecure: true, dataVolume: { devicePath: '/dev/vdb' } }, /dataVolume.mountPoint must be an absolute path/],
    [{ insecure: true, baseDir: '/var/lib/coffer', dataVolume: { devicePath: '/dev/vdb', mountPoint: '/mnt/other' } }, /dataVolume.mountPoint \/mnt\/other must hold the datastore's data directory \/var\/lib\/coffer\/data/],
    // 87 bytes + /prun/.s.PGSQL.65535 = 107 fits; one more does not.
    [{ insecure: true, baseDir: `/${'b'.repeat(87)}` }, /^the base dir \/b{87} is 88 bytes long; the datastore's unix sockets under it would be 108 bytes, over the 107 a socket path may have: use a base dir of at most 87 bytes$/],
  ];
  for (const [opts, re] of bad) {
    t.throws(() => compileAgentConfig(opts, {}, MANAGERS), { name: 'ConfigError', message: re }, JSON.stringify(opts));
  }
  t.ok(new ConfigError('x') instanceof Error);
  t.equal(compileAgentConfig({ insecure: true, baseDir: `/${'b'.repeat(86)}` }, {}, MANAGERS).baseDir.length, 87, 'a base dir of 87 bytes fits');
  t.same(parseHostPort('[::1]:80', 'x'), { host: '::1', port: 80 });
  t.ok(isLoopback('127.0.0.2') && isLoopback('::1') && !isLoopback('0.0.0.0'));
});

t.test('the datastore serves TLS only from a pair of its own, never the agent\'s identity key', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-dstls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    writeFileSync(path.join(dir, name), text, { mode: 0o600 });
    return path.join(dir, name);
  };
  const identity = { tlsCert: file('id.crt', 'C'), tlsKey: file('id.key', 'IDENTITY'), tlsCa: file('ca.crt', 'CA'), listen: '127.0.0.1:0', baseDir: dir };
  t.equal(compileAgentConfig(identity, {}, MANAGERS).datastoreTls, null, 'a hand-run agent with --tls-* only: the datastore offers no TLS');
  const serving = { datastoreTlsCert: file('ds.crt', 'C'), datastoreTlsKey: file('ds.key', 'SERVING') };
  t.same(compileAgentConfig(identity, serving, MANAGERS).datastoreTls, { cert: serving.datastoreTlsCert, key: serving.datastoreTlsKey });
  t.same(compileAgentConfig({ insecure: true, baseDir: dir }, serving, MANAGERS).datastoreTls, { cert: serving.datastoreTlsCert, key: serving.datastoreTlsKey }, 'no mutual TLS needed for it');
  t.equal(compileAgentConfig(identity, serving, MANAGERS).datastoreCa, identity.tlsCa, 'replicas verify sources with the identity\'s CA by default');
  const dsCa = file('ds-ca.crt', 'INSTANCES CA');
  t.equal(compileAgentConfig({ insecure: true, baseDir: dir }, { ...serving, datastoreTlsCa: dsCa }, MANAGERS).datastoreCa, dsCa, '--datastore-tls-ca names it, also without mutual TLS');
  const bad: Array<[object, RegExp]> = [
    [{ datastoreTlsCert: serving.datastoreTlsCert }, /needs both --datastore-tls-cert and --datastore-tls-key/],
    [{ ...serving, datastoreTlsKey: path.join(dir, 'none.key') }, /datastore TLS key file .*none\.key does not exist/],
    [{ ...serving, datastoreTlsKey: identity.tlsKey }, /is the agent's own --tls-key/],
    [{ ...serving, datastoreTlsKey: file('copy.key', 'IDENTITY') }, /is the agent's own --tls-key/],
    [{ ...serving, datastoreTlsCa: path.join(dir, 'none-ca.crt') }, /datastore TLS CA file .*none-ca\.crt does not exist/],
  ];
  for (const [flags, re] of bad) t.throws(() => compileAgentConfig(identity, flags, MANAGERS), { name: 'ConfigError', message: re }, JSON.stringify(flags));
});
