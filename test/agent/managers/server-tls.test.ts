// The files postgres and mysqld serve TLS from: a copy of the datastore's
// own serving certificate and key that the server may read (root-owned, group of its
// user, key 0640, nothing for others), and the config lines that point at
// them. End to end (TLS sessions, verify-full for PostgreSQL) in
// test/control/rest/datastores.test.ts; what a tenant superuser can read of it in
// test/agent/managers/datastore-tls-key.test.ts.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lookupOsUser } from '../../../lib/os-user.js';
import { installServerTls } from '../../../agent/managers/server-tls.js';
import { renderPostgresqlConf } from '../../../agent/managers/postgresql/conf.js';
import { renderMyCnf } from '../../../agent/managers/mysql-family/my-cnf.js';

t.test('the certificate and key are placed where only root and postgres read the key', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-pgtls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pg = lookupOsUser('postgres');
  const src = { cert: path.join(dir, 'in.crt'), key: path.join(dir, 'in.key') };
  writeFileSync(src.cert, 'CERT 1');
  writeFileSync(src.key, 'KEY 1', { mode: 0o600 });
  const etc = path.join(dir, 'etc');
  const files = installServerTls(etc, src, pg)!;
  const mode = (f: string) => statSync(f).mode & 0o777;
  t.equal(mode(path.join(etc, 'tls')), 0o750);
  t.equal(mode(files.keyFile), 0o640, 'key: 0640');
  t.equal(mode(files.certFile), 0o644);
  for (const f of [files.keyFile, files.certFile, path.join(etc, 'tls')]) {
    t.same([statSync(f).uid, statSync(f).gid], [0, pg.gid], `${path.basename(f)}: root, group postgres`);
  }
  writeFileSync(src.key, 'KEY 2');
  installServerTls(etc, src, pg);
  t.equal(readFileSync(files.keyFile, 'utf8'), 'KEY 2', 'a renewed key replaces the copy');
  t.equal(mode(files.keyFile), 0o640);
  t.equal(installServerTls(etc, null, pg), undefined, 'no serving pair: no TLS files to name');
  t.notOk(existsSync(path.join(etc, 'tls')), 'and the copy an earlier configuration left is gone');
});

t.test('postgresql.conf offers TLS only when the datastore has a serving pair', async (t) => {
  const base = { dataDir: '/d', etcDir: '/e', runDir: '/r', port: 5432, bindAddress: '127.0.0.1', overrides: {} };
  t.notMatch(renderPostgresqlConf(base), /^ssl/m, 'no certificate: no ssl lines');
  const conf = renderPostgresqlConf({ ...base, tls: { certFile: '/e/tls/server.crt', keyFile: "/e/tls/it's.key" } });
  t.match(conf, /^ssl = on$/m);
  t.match(conf, /^ssl_cert_file = '\/e\/tls\/server\.crt'$/m);
  t.match(conf, /^ssl_key_file = '\/e\/tls\/it''s\.key'$/m, 'quoted as a conf literal');
  t.match(conf, /^ssl_min_protocol_version = 'TLSv1\.2'$/m);
});

t.test('my.cnf offers TLS only when the datastore has a serving pair', async (t) => {
  const base = { dataDir: '/d', runDir: '/r', logDir: '/l', tmpDir: '/t', port: 3306, bindAddress: '127.0.0.1', overrides: {}, serverId: 7 };
  t.notMatch(renderMyCnf(base), /^ssl|^tls/m, 'no certificate: no TLS lines');
  const cnf = renderMyCnf({ ...base, tls: { certFile: '/e/tls/server.crt', keyFile: '/e/tls/server.key' } });
  const mysqld = cnf.slice(cnf.indexOf('[mysqld]'));
  t.match(mysqld, /^ssl-cert = \/e\/tls\/server\.crt$/m, 'in [mysqld]');
  t.match(mysqld, /^ssl-key = \/e\/tls\/server\.key$/m);
  t.match(mysqld, /^tls_version = TLSv1\.2,TLSv1\.3$/m);
});
