// `make bench` options, from the environment, compiled once: nothing reads
// process.env after this.
//
//   BENCH_ONLY       comma list of mariadb, postgres, redis, control, replication, cluster (default: all)
//   BENCH_SIZE_GB    MariaDB and PostgreSQL dataset size, and the Galera donor's (default 2: large enough that the tools, not set-up, dominate)
//   BENCH_REDIS_GB   Redis dataset size (default 1)
//   BENCH_AGENTS     simulated agents / instances for the control bench (default 10000)
//   BENCH_ROUNDS     times each backup pair (bare, then Coffer) is repeated, MariaDB and PostgreSQL; also replica creations and Galera joins (default 3)
//   BENCH_VERIFY     "count" (default) or "checksum": how a restore is checked
//   BENCH_TMP        where datasets and backups go (default the OS temp dir)
//   BENCH_JSON       also write the results as JSON to this file
//   BENCH_REPLICATION  the replication suite's parts: comma list of mariadb, postgres, redis (lag only), failover (default: all)
//   BENCH_LAG_SECONDS  how long the replication lag is measured under writes, per datastore (default 30; 0 skips it)
//   BENCH_LAG_EVERY_MS the interval between the lag bench's writes (default 100)
//   BENCH_FAILOVER_HEARTBEAT_SECONDS, BENCH_FAILOVER_GRACE_SECONDS  the failover part's control settings (default: the control's, 10 and 10)
//   BENCH_ONEPASS      MariaDB replica creation's one-pass prototypes, comma list of follow, follow-none, relay-zstd, relay-none (default follow; "" none)
//   BENCH_REDIS_CLUSTER_KEYS  keys of 100 B in the Redis Cluster rebalance bench (default 1000000)
//   BENCH_CLUSTER_LOG  a directory to keep the cluster bench's agent logs in (the joiners' and the donor's), to see where a join's time goes
//   BENCH_CPU_PROF     a directory: the backup benches' agents run with node --cpu-prof and write their profiles there on exit
//   BENCH_OBJECT_MB, BENCH_PART_MB, BENCH_PARTS_IN_FLIGHT  the object-store suite: object size, part (segment) size and parts in flight (default 1024, 64, 4)
//   BENCH_NET_AGENTS, BENCH_NET_WORKERS  the heartbeats-net suite: simulated agents (each its own channel and certificate) and the processes holding them (default 1000, 2); rounds are 5 x BENCH_ROUNDS
//   BENCH_MEMORY_MB, BENCH_AGENT_FLAGS  the agent-memory suite: MariaDB dataset for its backup and restore (MB of .ibd, default 300); node flag sets to compare, ';'-separated ("" = lib/agent-node-flags.ts's)
//   BENCH_PITR_SCALE, BENCH_PITR_SECONDS  the pitr suite: pgbench scale and seconds of write load under archiving (default 10, 60)
//   BENCH_REPLICA_LOG  a file to keep the Coffer replica agent's log in (info level), to time the steps inside Prepare
//   BENCH_PITR_SECONDS, BENCH_PITR_TIMEOUT  the pitr-mariadb suite: seconds of its write loop (the same variable), and the archive timeout (default 10)
//   BENCH_PITR_MINUTES, BENCH_PITR_RATE, BENCH_PITR_MARIADB_RATE  the pitr-restore and pitr-restore-mariadb suites (restore to a time of a BENCH_SIZE_GB instance): minutes of changes (default 30), pgbench -R transactions/s (default 50), the MariaDB write loop's ticks/s (default 10)
export const SUITES = ['mariadb', 'control', 'postgres', 'redis', 'replication', 'cluster', 'redis-cluster', 'cluster-create', 'object-store', 'heartbeats-net', 'agent-memory', 'pitr', 'pitr-mariadb', 'pitr-restore', 'pitr-restore-mariadb'] as const;
export const REPLICATION_PARTS = ['mariadb', 'postgres', 'redis', 'failover'] as const;
export type ReplicationPart = (typeof REPLICATION_PARTS)[number];
export type Suite = (typeof SUITES)[number];

export interface BenchOptions {
  readonly only: readonly Suite[];
  readonly sizeGb: number;
  readonly redisGb: number;
  readonly agents: number;
  readonly rounds: number;
  readonly verify: 'count' | 'checksum';
  readonly tmp: string | undefined;
  readonly json: string | undefined;
  readonly replication: readonly ReplicationPart[];
  readonly lagSeconds: number;
  readonly lagEveryMs: number;
  readonly failoverHeartbeatSeconds: number | undefined;
  readonly failoverGraceSeconds: number | undefined;
  readonly redisClusterKeys: number;
  readonly cpuProf: string | undefined;
  readonly objectMb: number;
  readonly partMb: number;
  readonly partsInFlight: number;
  readonly netAgents: number;
  readonly netWorkers: number;
  readonly memoryMb: number;
  readonly agentFlagSets: readonly (readonly string[])[];
  /** The pitr suite: pgbench's scale and how long its write load runs (also the pitr-mariadb suite's). */
  readonly pitrScale: number;
  readonly pitrSeconds: number;
  /** The pitr-mariadb suite's archive timeout. */
  readonly pitrTimeoutSeconds: number;
  /** The pitr-restore suites: minutes of changes, pgbench's rate (transactions/s), the MariaDB loop's rate (ticks/s). */
  readonly pitrRestoreMinutes: number;
  readonly pitrRate: number;
  readonly pitrMariadbRate: number;
}

function num(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new TypeError(`${name} must be a number >= ${min}, got "${raw}"`);
  return n;
}

export function compileOptions(env: NodeJS.ProcessEnv): BenchOptions {
  const only = (env.BENCH_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of only) if (!(SUITES as readonly string[]).includes(s)) throw new TypeError(`BENCH_ONLY: unknown suite "${s}"; use ${SUITES.join(', ')}`);
  const parts = (env.BENCH_REPLICATION ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of parts) if (!(REPLICATION_PARTS as readonly string[]).includes(p)) throw new TypeError(`BENCH_REPLICATION: unknown part "${p}"; use ${REPLICATION_PARTS.join(', ')}`);
  const verify = env.BENCH_VERIFY || 'count';
  if (verify !== 'count' && verify !== 'checksum') throw new TypeError(`BENCH_VERIFY must be count or checksum, got "${verify}"`);
  return Object.freeze({
    only: only.length ? (only as Suite[]) : [...SUITES],
    sizeGb: num(env, 'BENCH_SIZE_GB', 2, 0.01),
    pitrScale: Math.floor(num(env, 'BENCH_PITR_SCALE', 10, 1)),
    pitrSeconds: Math.floor(num(env, 'BENCH_PITR_SECONDS', 60, 5)),
    redisGb: num(env, 'BENCH_REDIS_GB', 1, 0.01),
    agents: Math.floor(num(env, 'BENCH_AGENTS', 10_000, 1)),
    rounds: Math.floor(num(env, 'BENCH_ROUNDS', 3, 1)),
    verify,
    tmp: env.BENCH_TMP || undefined,
    json: env.BENCH_JSON || undefined,
    replication: parts.length ? (parts as ReplicationPart[]) : [...REPLICATION_PARTS],
    lagSeconds: num(env, 'BENCH_LAG_SECONDS', 30, 0),
    lagEveryMs: Math.floor(num(env, 'BENCH_LAG_EVERY_MS', 100, 10)),
    failoverHeartbeatSeconds: env.BENCH_FAILOVER_HEARTBEAT_SECONDS ? Math.floor(num(env, 'BENCH_FAILOVER_HEARTBEAT_SECONDS', 10, 1)) : undefined,
    failoverGraceSeconds: env.BENCH_FAILOVER_GRACE_SECONDS ? num(env, 'BENCH_FAILOVER_GRACE_SECONDS', 10, 0) : undefined,
    redisClusterKeys: Math.floor(num(env, 'BENCH_REDIS_CLUSTER_KEYS', 1_000_000, 1000)),
    cpuProf: env.BENCH_CPU_PROF || undefined,
    objectMb: Math.floor(num(env, 'BENCH_OBJECT_MB', 1024, 1)),
    partMb: Math.floor(num(env, 'BENCH_PART_MB', 64, 5)),
    partsInFlight: Math.floor(num(env, 'BENCH_PARTS_IN_FLIGHT', 4, 1)),
    netAgents: Math.floor(num(env, 'BENCH_NET_AGENTS', 1000, 1)),
    netWorkers: Math.floor(num(env, 'BENCH_NET_WORKERS', 2, 1)),
    memoryMb: Math.floor(num(env, 'BENCH_MEMORY_MB', 300, 10)),
    agentFlagSets: (env.BENCH_AGENT_FLAGS ?? '').split(';').map((set) => set.split(' ').filter(Boolean)),
    pitrTimeoutSeconds: Math.floor(num(env, 'BENCH_PITR_TIMEOUT', 10, 1)),
    pitrRestoreMinutes: num(env, 'BENCH_PITR_MINUTES', 30, 0.1),
    pitrRate: num(env, 'BENCH_PITR_RATE', 50, 1),
    pitrMariadbRate: num(env, 'BENCH_PITR_MARIADB_RATE', 10, 0.1),
  });
}
