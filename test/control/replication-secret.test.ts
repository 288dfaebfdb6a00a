// Replication secrets are derived, not stored: the key file is created once
// with mode 0600 and read again by a later start, and a secret is the same
// for the same replica (per-replica accounts) or for the deployment.
import t from 'tap';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ReplicationSecrets } from '../../control/replication-secret.js';

t.test('a 0600 key, created once, gives stable distinct secrets', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-secret-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = ReplicationSecrets.open(dir);
  t.equal(statSync(path.join(dir, 'replication.key')).mode & 0o777, 0o600, 'the key file is 0600');
  const b = ReplicationSecrets.open(dir);
  t.equal(a.secretFor('replica', 'r1'), b.secretFor('replica', 'r1'), 'a restarted control derives the same secret');
  t.not(a.secretFor('replica', 'r1'), a.secretFor('replica', 'r2'), 'each replica has its own');
  t.equal(a.secretFor('deployment', 'r1'), a.secretFor('deployment', 'r2'), 'the deployment secret is one for every replica');
  t.match(a.secretFor('replica', 'r1'), /^[0-9a-f]{64}$/, 'hex: safe in every datastore\'s syntax');
  const other = mkdtempSync(path.join(os.tmpdir(), 'coffer-secret-'));
  t.teardown(() => rmSync(other, { recursive: true, force: true }));
  t.not(ReplicationSecrets.open(other).secretFor('deployment', ''), a.secretFor('deployment', ''), 'another deployment derives other secrets');
});
