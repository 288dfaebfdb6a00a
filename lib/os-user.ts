// Looks up an OS account without spawning `id` (Node has no getpwnam).
import { readFileSync } from 'node:fs';

export interface OsUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export function lookupOsUser(name: string, passwdFile = '/etc/passwd'): OsUser {
  for (const line of readFileSync(passwdFile, 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 6) return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
  }
  throw new Error(`OS user "${name}" does not exist; is the datastore's Debian package installed? (make up installs it)`);
}
