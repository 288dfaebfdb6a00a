// This instance's place in replication, kept in <agentDir>/replication.json
// (atomic write, 0600, no secrets) so an agent restart knows what it was:
// a source must come back fenced (fencing.ts), a replica keeps following.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * - standalone: no replication (every instance starts so).
 * - source: replicas follow it; it takes writes only while the control confirms it.
 * - replica: follows `source`, refuses writes.
 */
export type Role = 'standalone' | 'source' | 'replica';

export const ROLES: readonly Role[] = ['standalone', 'source', 'replica'];

/** The source a replica follows (no secret: the password lives only where the datastore keeps it). */
export interface FollowedSource {
  readonly instanceId: string;
  readonly host: string;
  readonly port: number;
}

/**
 * Why a source refuses writes because it may no longer be the source:
 * - boot: it restarted and the control has not confirmed it yet;
 * - lease: its lease ran out without a new confirmation;
 * - control: the control said another instance took over (sticky until
 *   the control changes its role).
 */
export type FenceReason = 'boot' | 'lease' | 'control';

export interface ReplicationRole {
  role: Role;
  source: FollowedSource | null;
  /** Set while a source is fenced; null otherwise. */
  fenced: FenceReason | null;
  /** MakeReadOnly(true) asked for it (a switchover): kept until MakeReadOnly(false) or a role change. */
  readOnly: boolean;
}

const INITIAL: ReplicationRole = { role: 'standalone', source: null, fenced: null, readOnly: false };

export const roleFile = (agentDir: string): string => path.join(agentDir, 'replication.json');

export class RoleStore {
  private current: ReplicationRole;

  constructor(private readonly file: string) {
    this.current = { ...INITIAL };
    if (existsSync(file)) {
      const read = JSON.parse(readFileSync(file, 'utf8')) as Partial<ReplicationRole>;
      if (!ROLES.includes(read.role as Role)) throw new Error(`${file} names an unknown role ${JSON.stringify(read.role)}`);
      this.current = { ...INITIAL, ...read };
    }
  }

  get(): Readonly<ReplicationRole> {
    return this.current;
  }

  update(patch: Partial<ReplicationRole>): Readonly<ReplicationRole> {
    this.current = { ...this.current, ...patch };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.current, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
    return this.current;
  }
}
