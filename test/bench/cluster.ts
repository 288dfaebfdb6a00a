// Issue 13, clusters (Galera, at the agent level): (b) the time from the
// first InstallCluster to every member of a 3-node cluster Synced, from 3
// prepared empty instances in the control's order (the bootstrap node,
// then each joiner in turn); (a) the time a new member takes to join a
// cluster holding BENCH_SIZE_GB (InstallCluster on a prepared instance: a
// mariabackup SST from the donor) against the same copy done by hand
// (cluster/galera-by-hand.ts), round after round on one donor. Issue 13
// sets no target; the ratio is reported with where the time went.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { call } from '../support/agent.js';
import { socketOf } from '../support/dataset.js';
import { generate, quiesce, tableCounts, tableCountsAt } from './mariadb.js';
import type { BenchOptions } from './options.js';
import { mbps, row, Teardown, type Row } from './harness.js';
import { benchRoot } from './workdir.js';
import { until } from './replication/daemon.js';
import { mariadbSql } from './replication/mariadb-sql.js';
import { galeraMember, installTimed, nodeStatus, sstLines, synced, type BenchMember } from './cluster/galera-members.js';
import { galeraJoinByHand } from './cluster/galera-by-hand.js';

const S = 'cluster';
const GIB = 1024 ** 3;

// BENCH_CLUSTER_LOG: a directory to keep the joiners' and the donor's agent logs in (mariadbd and the SST script write there), to see where a join's time goes.
const LOG_DIR = process.env.BENCH_CLUSTER_LOG || '';

function keepLog(name: string, m: BenchMember, from = 0): void {
  if (!LOG_DIR) return;
  mkdirSync(LOG_DIR, { recursive: true });
  writeFileSync(path.join(LOG_DIR, `${name}.log`), m.agent.logs.slice(from).join('\n'));
}

const clusterName = (): string => `bench-${randomBytes(4).toString('hex')}`;

async function allSynced(ms: readonly BenchMember[]): Promise<void> {
  await until('every member Synced', async () => ((await Promise.all(ms.map(nodeStatus))).every((s) => synced(s, ms.length)) ? true : undefined), 600_000, 200);
}

async function benchInstall(root: string): Promise<Row> {
  const td = new Teardown();
  try {
    const ms: BenchMember[] = [];
    for (let i = 0; i < 3; i++) ms.push(await galeraMember(td, root, `install-${i}`));
    const req = { clusterId: clusterName(), members: ms.map((m) => m.member), sst: randomBytes(18).toString('base64url') };
    const t0 = Date.now();
    const parts: string[] = [];
    for (const [i, m] of ms.entries()) {
      const r = await installTimed(m, { ...req, bootstrap: i === 0 });
      parts.push(`${i === 0 ? 'bootstrap' : `joiner ${i}`} ${r.seconds.toFixed(2)} s (${r.phases})`);
      keepLog(`install-${i}`, m);
    }
    await allSynced(ms);
    const seconds = (Date.now() - t0) / 1000;
    return row({
      suite: S,
      name: 'Galera: 3 prepared empty instances to every member Synced (InstallCluster on the bootstrap node, then on each joiner in turn; agent level)',
      seconds,
      note: `${parts.join('; ')}; Prepare beforehand (not counted) ${ms.map((m) => m.prepareSeconds.toFixed(1)).join(', ')} s`,
    });
  } finally {
    await td.run();
  }
}

export async function benchCluster(o: BenchOptions, td: Teardown): Promise<Row[]> {
  const rows: Row[] = [];
  const root = benchRoot(td, o, 'coffer-bench-cluster-');
  rows.push(await benchInstall(root));

  // The donor: a standalone filled first (a Galera write-set of the
  // generator's size would be certified and logged as one), then made the
  // first node of a cluster.
  const donor = await galeraMember(td, root, 'donor');
  const gen = await generate(donor.agent.baseDir, o.sizeGb * GIB);
  rows.push(row({ suite: S, name: 'Galera donor dataset (mariadb.ts generator, 4 InnoDB tables)', bytes: gen.bytes, seconds: gen.seconds, mbps: mbps(gen.bytes, gen.seconds), note: `${gen.rows} rows; bytes = .ibd files` }));
  await quiesce(donor.agent.baseDir);
  const want = await tableCounts(donor.agent.baseDir);
  const clusterId = clusterName();
  const sst = randomBytes(18).toString('base64url');
  const boot = await installTimed(donor, { clusterId, members: [donor.member], sst, bootstrap: true });
  rows.push(row({ suite: S, name: `Galera: InstallCluster (bootstrap) on the instance holding the dataset`, seconds: boot.seconds, note: boot.phases }));
  await call(donor.cluster, 'completeCluster', { clusterId });
  const gtidDomainId = Number((await mariadbSql(socketOf(donor.agent.baseDir), 'SELECT @@wsrep_gtid_domain_id')).trim());

  const pairs: Array<{ hand: number; coffer: number }> = [];
  for (let r = 1; r <= o.rounds; r++) {
    const round = new Teardown();
    try {
      const dir = path.join(root, `hand-${r}`);
      const h = await galeraJoinByHand(round, dir, { baseDir: donor.agent.baseDir, gmcastPort: donor.member.clusterPorts.gmcast!, clusterName: clusterId, gtidDomainId, sizeAfter: 2 }, 100 + r);
      const handCounts = await tableCountsAt(h.socket);
      if (handCounts !== want) throw new Error(`the by-hand member's row counts differ: donor ${want}, member ${handCounts}`);
      rows.push(
        row({
          suite: S,
          name: `Galera member joined by hand (mariadb-backup --galera-info | socat => socat | mbstream -x, prepare, grastate.dat, mariadbd), round ${r}`,
          seconds: h.seconds,
          mbps: mbps(gen.bytes, h.seconds),
          note: `${h.phases}; after its start: ${h.transfer}; MB/s of dataset bytes; row counts equal the donor's`,
        }),
      );
      // A clean stop: the donor drops it from the view at once.
      await h.daemon.stop();
      await until('the donor alone again', async () => (synced(await nodeStatus(donor), 1) ? true : undefined), 120_000, 200);
      rmSync(dir, { recursive: true, force: true });

      // Coffer: the grow order (docs/clusters.md): a prepared instance,
      // the new list on the existing member, InstallCluster on the new one.
      const j = await galeraMember(round, root, `join-${r}`);
      const members = [donor.member, j.member];
      await call(donor.cluster, 'setClusterMembers', { clusterId, members });
      const donorLogFrom = donor.agent.logs.length;
      const c = await installTimed(j, { clusterId, members, sst, bootstrap: false });
      const got = await tableCounts(j.agent.baseDir);
      if (got !== want) throw new Error(`the Coffer member's row counts differ: donor ${want}, member ${got}`);
      pairs.push({ hand: h.seconds, coffer: c.seconds });
      rows.push(
        row({
          suite: S,
          name: `Galera member joined by Coffer (InstallCluster on a prepared instance: mariabackup SST), round ${r}`,
          seconds: c.seconds,
          mbps: mbps(gen.bytes, c.seconds),
          note: `${c.phases}; ${(c.seconds / h.seconds).toFixed(2)}x the by-hand time; Prepare beforehand (not counted) ${j.prepareSeconds.toFixed(1)} s; row counts equal the donor's`,
        }),
      );
      // Where the time went: the SST script's and the server's own lines.
      console.log(`bench cluster: joiner's state-transfer lines, round ${r}:\n  ${sstLines(j).join('\n  ')}`);
      console.log(`bench cluster: donor's state-transfer lines, round ${r}:\n  ${sstLines(donor, donorLogFrom).join('\n  ')}`);
      // What the SST sent besides the data: the donor's binary logs (the
      // by-hand backup sends none).
      const backupLog = path.join(donor.agent.baseDir, 'data', 'mariabackup.backup.log');
      const binlogs = readdirSync(path.join(donor.agent.baseDir, 'data')).filter((f) => /^mysql-bin\.\d+$/.test(f));
      console.log(`bench cluster: donor binary logs ${binlogs.map((f) => `${f} ${(statSync(path.join(donor.agent.baseDir, 'data', f)).size / 1e6).toFixed(1)} MB`).join(', ')}; SST backup log lines naming them:\n  ${existsSync(backupLog) ? readFileSync(backupLog, 'utf8').split('\n').filter((l) => /mysql-bin/.test(l)).join('\n  ') : '(no mariabackup.backup.log)'}`);
      keepLog(`join-${r}-joiner`, j);
      keepLog(`join-${r}-donor`, donor, donorLogFrom);
      await call(j.cluster, 'leaveCluster', { clusterId });
      await call(donor.cluster, 'setClusterMembers', { clusterId, members: [donor.member] });
      await until('the donor alone again', async () => (synced(await nodeStatus(donor), 1) ? true : undefined), 120_000, 200);
    } finally {
      await round.run();
    }
  }
  const ratios = pairs.map((p) => p.coffer / p.hand).sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)]!;
  rows.push(
    row({
      suite: S,
      name: `Galera join, Coffer / by hand (median of ${pairs.length} round(s))`,
      note: `${median.toFixed(2)}x: ${pairs.map((p) => `${p.coffer.toFixed(1)} s / ${p.hand.toFixed(1)} s`).join(', ')}`,
    }),
  );
  return rows;
}
