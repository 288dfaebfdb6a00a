// Replication lag for Redis: a source prepared by an agent, a replica made
// by Coffer (coffer-replica.ts: GetReplicaSnapshot, then a fresh agent's
// Prepare with restore + replica_of), and the lag measured under writes
// (lag.ts) against what the replica's agent reports. The agents have the
// datastore's serving pair and the deployment's CA (tls.ts), as the
// control's have, so Redis serves TLS only and the replica follows over
// TLS; the bench reads and writes over the socket. Nothing is compared by
// hand.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { AgentProcess } from '../../support/agent.js';
import { deployment } from '../agents.js';
import type { BenchOptions } from '../options.js';
import { row, type Row, type Teardown } from '../harness.js';
import { replicaByCoffer } from './coffer-replica.js';
import { lagNote, measureLag, type LagProbe } from './lag.js';
import { preparedTlsAgent, type BenchPki } from './tls.js';

const S = 'replication';
const ADMIN_USER = 'coffer_admin';

/** The agent's admin user over the instance's socket (its secret is in the agent's 0600 file). */
function adminClient(a: AgentProcess): Redis {
  const secret = readFileSync(path.join(a.baseDir, 'agent', 'admin.secret'), 'utf8').trim();
  return new Redis({ path: path.join(a.baseDir, 'run', 'redis.sock'), username: ADMIN_USER, password: secret, maxRetriesPerRequest: null });
}

const field = (info: string, name: string): string | undefined => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();

export async function benchRedisLag(o: BenchOptions, td: Teardown, root: string, pki: BenchPki): Promise<Row[]> {
  const { agentArgs } = deployment(root);
  const source = await preparedTlsAgent(td, pki, path.join(root, 'src'), 'redis', agentArgs);
  const src = adminClient(source);
  td.teardown(() => src.disconnect());
  await src.set('bench:seed', randomBytes(16).toString('hex'));
  let rep: Redis | undefined;
  const c = await replicaByCoffer(td, {
    source,
    sourceId: source.instanceId,
    datastore: 'redis',
    baseDir: path.join(root, 'replica'),
    pki,
    agentArgs,
    replicaId: randomUUID(),
    password: randomBytes(18).toString('base64url'),
    async caughtUp(replica) {
      rep ??= adminClient(replica);
      const [s, r] = [await src.info('replication'), await rep.info('replication')];
      return field(r, 'master_link_status') === 'up' && Number(field(r, 'slave_repl_offset')) >= Number(field(s, 'master_repl_offset'));
    },
  });
  const replica = rep ?? adminClient(c.agent);
  td.teardown(() => replica.disconnect());
  const probe: LagProbe = {
    async write(id, writtenAt) {
      await src.set('bench:lag', `${id}:${writtenAt}`);
    },
    async newest() {
      const v = await replica.get('bench:lag');
      if (!v) return null;
      const [id, at] = v.split(':').map(Number);
      return { id: id!, writtenAt: at! };
    },
    async close() {},
  };
  const lag = await measureLag(probe, c.agent, { seconds: o.lagSeconds, everyMs: o.lagEveryMs });
  return [row({ suite: S, name: `Redis replication lag, reported vs measured: SET of a value holding its write time every ${o.lagEveryMs} ms for ${o.lagSeconds} s on the source, GET on the Coffer replica`, note: `replica built in ${c.seconds.toFixed(2)} s (${c.phases}); ${lagNote(lag, 'replication offset bytes received, not applied')}` })];
}
