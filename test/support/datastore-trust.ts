// What the tests, as users of the deployments they start, trust for the
// datastores' TLS: the instances CA of every control this process started
// (a user of a deployment installs its CA). One bundle file, since
// redis-cli takes one --cacert; for helpers that are handed only a port
// (test/support/replication.ts). A test holding its control passes
// `h.datastoreCa` itself.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RedisTls } from './redis-cli.js';

let bundle: string | null = null;

function bundleFile(): string {
  if (bundle) return bundle;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'coffer-trust-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  bundle = path.join(dir, 'datastore-cas.pem');
  writeFileSync(bundle, '');
  return bundle;
}

/** Adds a CA (PEM file) to the bundle. */
export function trustDatastoreCa(caFile: string): void {
  appendFileSync(bundleFile(), readFileSync(caFile));
}

/** TLS to any instance of the controls started so far. */
export function datastoreTrust(): RedisTls {
  return { ca: bundleFile() };
}
