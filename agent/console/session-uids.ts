// The OS account a console client runs as: a uid (and gid) of its own for
// each session, from the range systemd keeps for such accounts
// (DynamicUser, 61184-65519), owning no file and no process but the
// session's. Another session's client is another uid, so it cannot read
// this one's environment (/proc/<pid>/environ) or its option file.
import { readdirSync, readFileSync } from 'node:fs';

export const FIRST_SESSION_UID = 61184;
export const LAST_SESSION_UID = 65519;

function namedIds(file: string): Set<number> {
  const out = new Set<number>();
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const id = Number(line.split(':')[2]);
      if (Number.isInteger(id)) out.add(id);
    }
  } catch {
    // No such file: nothing named.
  }
  return out;
}

/** Real, effective, saved and filesystem uids of every process now. */
function processUids(): Set<number> {
  const out = new Set<number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const m = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      for (const id of m?.[1]?.split(/\s+/) ?? []) out.add(Number(id));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

export class SessionUids {
  private readonly held = new Set<number>();

  /** A uid no account names, no process runs as and no live session holds; it is also the gid. */
  acquire(): number {
    const taken = new Set([...namedIds('/etc/passwd'), ...namedIds('/etc/group'), ...processUids(), ...this.held]);
    // Start at a random point so that a uid just released is not the next one given.
    const span = LAST_SESSION_UID - FIRST_SESSION_UID + 1;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const uid = FIRST_SESSION_UID + ((start + i) % span);
      if (!taken.has(uid)) {
        this.held.add(uid);
        return uid;
      }
    }
    throw new Error(`no free uid for a console session in ${FIRST_SESSION_UID}-${LAST_SESSION_UID}`);
  }

  release(uid: number): void {
    this.held.delete(uid);
  }
}
