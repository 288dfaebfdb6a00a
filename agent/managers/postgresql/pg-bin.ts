// Where the server's programs live. Debian installs each major version's
// binaries side by side under /usr/lib/postgresql/<major>/bin, and only some
// of them on PATH (through wrappers that pick a cluster): the agent always
// calls the version-specific ones so that the server and its tools match.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export type PgTool =
  | 'initdb'
  | 'postgres'
  | 'pg_isready'
  | 'pg_basebackup'
  | 'pg_verifybackup'
  | 'pg_dump'
  | 'pg_dumpall'
  | 'pg_restore'
  | 'psql'
  | 'pg_controldata'
  | 'pg_rewind'
  | 'pg_waldump';

export function pgBinDir(version: string): string {
  return `/usr/lib/postgresql/${version}/bin`;
}

export function pgTool(version: string, tool: PgTool): string {
  const p = path.join(pgBinDir(version), tool);
  try {
    accessSync(p, constants.X_OK);
  } catch {
    throw new Error(`${p} not found: install the postgresql-${version} and postgresql-client-${version} packages (make up installs them)`);
  }
  return p;
}
