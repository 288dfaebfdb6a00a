// grastate.dat: where a stopped Galera node's committed history ends. A node
// stopped cleanly writes its seqno; one that crashed (or still runs) has
// seqno -1, and only `mariadbd --wsrep-recover` (recover.ts) can tell.
// safe_to_bootstrap: 1 is written only on the last node to leave a cluster
// cleanly, or by us on the node chosen to start it anew.
import { existsSync, readFileSync, writeFileSync, renameSync, statSync, chownSync } from 'node:fs';
import path from 'node:path';

export interface GrastateFile {
  readonly uuid: string;
  readonly seqno: number;
  readonly safeToBootstrap: boolean;
}

export const grastatePath = (dataDir: string): string => path.join(dataDir, 'grastate.dat');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function parseGrastate(text: string): GrastateFile {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+):\s*(.*?)\s*$/.exec(line);
    if (m) fields.set(m[1]!, m[2]!);
  }
  const uuid = fields.get('uuid') ?? '';
  if (!UUID.test(uuid)) throw new Error(`grastate.dat has no valid uuid (${JSON.stringify(uuid.slice(0, 40))})`);
  const seqno = Number(fields.get('seqno'));
  if (!Number.isSafeInteger(seqno) || seqno < -1) throw new Error(`grastate.dat has no valid seqno (${JSON.stringify(fields.get('seqno'))})`);
  return { uuid, seqno, safeToBootstrap: fields.get('safe_to_bootstrap') === '1' };
}

export function readGrastate(dataDir: string): GrastateFile | null {
  const file = grastatePath(dataDir);
  return existsSync(file) ? parseGrastate(readFileSync(file, 'utf8')) : null;
}

/** Sets safe_to_bootstrap in place (owner kept). */
export function writeSafeToBootstrap(dataDir: string, safe: boolean): void {
  const file = grastatePath(dataDir);
  const text = readFileSync(file, 'utf8');
  const next = /^safe_to_bootstrap:.*$/m.test(text)
    ? text.replace(/^safe_to_bootstrap:.*$/m, `safe_to_bootstrap: ${safe ? 1 : 0}`)
    : text.replace(/\n?$/, `\nsafe_to_bootstrap: ${safe ? 1 : 0}\n`);
  const st = statSync(file);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, next, { mode: st.mode & 0o777 });
  chownSync(tmp, st.uid, st.gid);
  renameSync(tmp, file);
}

/** `mariadbd --wsrep-recover` logs "WSREP: Recovered position: <uuid>:<seqno>" (into the error log). */
export function parseRecoveredPosition(log: string): { uuid: string; seqno: number } | null {
  const all = [...log.matchAll(/WSREP: Recovered position:\s*([0-9a-f-]{36}):(-?\d+)/g)];
  const last = all.at(-1);
  if (!last) return null;
  return { uuid: last[1]!, seqno: Number(last[2]) };
}
