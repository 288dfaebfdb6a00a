// This instance's cluster membership, kept in <agentDir>/cluster.json
// (atomic write, 0600, no secret): strategy, cluster id and the member list
// the control last gave. Absent: no cluster's member.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterMember } from '../../proto/gen/coffer/agent/v1/cluster.js';

export interface Membership {
  readonly strategy: string;
  readonly clusterId: string;
  readonly members: readonly ClusterMember[];
}

export class MembershipStore {
  readonly file: string;

  constructor(agentDir: string) {
    this.file = path.join(agentDir, 'cluster.json');
  }

  get(): Membership | null {
    return existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Membership) : null;
  }

  set(m: Membership | null): void {
    if (!m) {
      rmSync(this.file, { force: true });
      return;
    }
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
