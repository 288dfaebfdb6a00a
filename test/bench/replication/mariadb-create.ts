// Replica creation for MariaDB: by hand (mariadb-by-hand.ts) against Coffer
// (coffer-clone-replica.ts: the replica's agent clones the source through
// the source agent's one-shot endpoint, as the control's create-replicas
// does, with the copy uncompressed and zstd -1 on the wire), round after
// round on one source holding the dataset of mariadb.ts's generator.
// Target: Coffer at most 1.3x the by-hand time.
import { randomBytes, randomUUID } from 'node:crypto';
import { loadavg as osLoadavg } from 'node:os';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { socketOf } from '../../support/dataset.js';
import { call, type AgentProcess } from '../../support/agent.js';
import { deployment } from '../agents.js';
import { generate, quiesce, tableCounts, tableCountsAt } from '../mariadb.js';
import type { BenchOptions } from '../options.js';
import { mbps, row, Teardown, type Row } from '../harness.js';
import { clonedReplicaByCoffer } from './coffer-clone-replica.js';
import { mariadbReplicaByHand } from './mariadb-by-hand.js';
import { mariadbCaughtUp, mariadbSql } from './mariadb-sql.js';
import { timeRatioSummary } from './ratio.js';
import { lagNote, measureLag } from './lag.js';
import { mariadbLagProbe } from './lag-probes.js';
import { preparedTlsAgent, type BenchPki } from './tls.js';
import { relaySnapshotInto } from './mariadb-relay.js';
import { followSnapshotInto } from './mariadb-follow.js';
import { loadWrappingKey } from '../../../strategies/backup/key-file.js';

const S = 'replication';
const GIB = 1024 ** 3;
const TARGET = 1.3;

// BENCH_ONEPASS: the one-pass prototypes measured after each Coffer replica
// (comma list of follow, follow-none, relay-zstd, relay-none; default follow; "" none).
type OnePass = 'follow' | 'follow-none' | 'relay-zstd' | 'relay-none';
const ONE_PASS_KINDS: readonly OnePass[] = ['follow', 'follow-none', 'relay-zstd', 'relay-none'];
const ONE_PASS: readonly OnePass[] = (process.env.BENCH_ONEPASS ?? 'follow')
  .split(',')
  .map((x) => x.trim())
  .filter(Boolean)
  .map((x) => {
    if (!(ONE_PASS_KINDS as readonly string[]).includes(x)) throw new TypeError(`BENCH_ONEPASS: unknown prototype "${x}"; use ${ONE_PASS_KINDS.join(', ')}`);
    return x as OnePass;
  });

export async function benchMariadbReplicaCreation(o: BenchOptions, td: Teardown, root: string, pki: BenchPki): Promise<Row[]> {
  const rows: Row[] = [];
  const { agentArgs, backupDir } = deployment(root);
  const source = await preparedTlsAgent(td, pki, path.join(root, 'src'), 'mariadb', agentArgs);
  const gen = await generate(source.baseDir, o.sizeGb * GIB);
  rows.push(row({ suite: S, name: 'MariaDB source dataset (mariadb.ts generator, 4 InnoDB tables)', bytes: gen.bytes, seconds: gen.seconds, mbps: mbps(gen.bytes, gen.seconds), note: `${gen.rows} rows; bytes = .ibd files` }));

  // The by-hand replicas' account, made once (setup, not timed).
  const hand = { user: 'bench_repl', password: randomBytes(18).toString('base64url') };
  await mariadbSql(socketOf(source.baseDir), `CREATE USER '${hand.user}'@'%' IDENTIFIED BY '${hand.password}' REQUIRE SSL; GRANT REPLICATION SLAVE ON *.* TO '${hand.user}'@'%';`);
  await quiesce(source.baseDir);
  const want = await tableCounts(source.baseDir);

  const pairs: Record<'none' | 'zstd', Array<{ hand: number; coffer: number }>> = { none: [], zstd: [] };
  const onePass: Record<OnePass, Array<{ hand: number; coffer: number }>> = { follow: [], 'follow-none': [], 'relay-zstd': [], 'relay-none': [] };
  const wrappingKey = loadWrappingKey(path.join(root, 'backup.key'));
  for (let r = 1; r <= o.rounds; r++) {
    const round = new Teardown();
    try {
      const dir = path.join(root, `hand-${r}`);
      const h = await mariadbReplicaByHand(round, dir, { baseDir: source.baseDir, port: source.datastorePort, ca: pki.ca, ...hand }, 100 + r);
      rows.push(row({ suite: S, name: `MariaDB replica by hand (mariadb-backup | mbstream -x, prepare, mariadbd, CHANGE MASTER ... MASTER_USE_GTID=slave_pos), round ${r}`, seconds: h.seconds, mbps: mbps(gen.bytes, h.seconds), note: `${h.phases}; MB/s of dataset bytes; load ${loadavg()}` }));
      await round.run();
      rmSync(dir, { recursive: true, force: true });

      const replicaId = randomUUID();
      // Both compressions on the wire, in turns (which goes first alternates by round).
      const order: Array<'none' | 'zstd'> = r % 2 === 1 ? ['none', 'zstd'] : ['zstd', 'none'];
      for (const compression of order) {
        const cdir = path.join(root, `coffer-${r}-${compression}`);
        const c = await clonedReplicaByCoffer(
          round,
          {
            source,
            sourceId: source.instanceId,
            datastore: 'mariadb',
            baseDir: cdir,
            pki,
            agentArgs,
            replicaId,
            password: randomBytes(18).toString('base64url'),
            caughtUp: (replica: AgentProcess) => mariadbCaughtUp(socketOf(source.baseDir), socketOf(replica.baseDir)),
          },
          { compression },
        );
        const got = await tableCounts(c.agent.baseDir);
        if (got !== want) throw new Error(`the Coffer replica's row counts differ: source ${want}, replica ${got}`);
        pairs[compression].push({ hand: h.seconds, coffer: c.seconds });
        rows.push(
          row({
            suite: S,
            name: `MariaDB replica by Coffer (AddReplicaAccess with a clone ticket on the source agent, fresh agent Prepare with replica_of cloning through the endpoint, wire ${compression}), round ${r}`,
            bytes: c.clonedBytes,
            seconds: c.seconds,
            mbps: mbps(gen.bytes, c.seconds),
            note: `${c.phases}; ${(c.seconds / h.seconds).toFixed(2)}x the by-hand time; bytes = sent over the wire; replica row counts equal the source's (${got}); load ${loadavg()}`,
          }),
        );
        if (r === o.rounds && compression === order[1] && o.lagSeconds > 0) {
          const lag = await measureLag(await mariadbLagProbe(socketOf(source.baseDir), socketOf(c.agent.baseDir)), c.agent, { seconds: o.lagSeconds, everyMs: o.lagEveryMs });
          rows.push(row({ suite: S, name: `MariaDB replication lag, reported vs measured: a row holding its write time every ${o.lagEveryMs} ms for ${o.lagSeconds} s on the source, polled on the Coffer replica`, note: lagNote(lag, 'transactions received, not applied') }));
        }
        await c.agent.stop();
        await round.run();
        await call(source.clients.replication, 'removeReplicaAccess', { replicaId });
        rmSync(cdir, { recursive: true, force: true });
      }

      // The one-pass prototypes (BENCH_ONEPASS): the replica's restore
      // follows the stored snapshot while the source writes it
      // (mariadb-follow.ts), or the source agent's StreamBackup is restored
      // while it arrives, nothing stored (mariadb-relay.ts).
      for (const kind of ONE_PASS) {
        const rdir = path.join(root, `${kind}-${r}`);
        let stored = 0;
        let detail = '';
        const followId = randomUUID();
        const p = await mariadbReplicaByHand(round, rdir, { baseDir: source.baseDir, port: source.datastorePort, ca: pki.ca, ...hand }, 200 + r * 4 + ONE_PASS.indexOf(kind), {
          name:
            kind === 'follow'
              ? 'GetReplicaSnapshot, its stored object followed while written: decrypt, zstd -d | mbstream -x'
              : kind === 'follow-none'
                ? 'CreateBackup (compression none), its stored object followed while written: decrypt | mbstream -x'
                : `StreamBackup (${kind === 'relay-zstd' ? 'zstd' : 'none'}) relayed: decrypt${kind === 'relay-zstd' ? ', zstd -d' : ''} | mbstream -x`,
          async copy(data) {
            if (kind === 'follow' || kind === 'follow-none') {
              const f = await followSnapshotInto(
                { source, sourceInstanceId: source.instanceId, backupDir, wrappingKey, replicaId: followId, password: randomBytes(18).toString('base64url'), compression: kind === 'follow' ? 'zstd' : 'none' },
                data,
              );
              stored = f.storedBytes;
              detail = `, the source's snapshot stored after ${f.snapshotSeconds.toFixed(2)} s`;
              await call(source.clients.backup, 'deleteBackup', { location: f.artifact.location });
            } else {
              stored = (await relaySnapshotInto(source, wrappingKey, kind === 'relay-zstd' ? 'zstd' : 'none', data)).storedBytes;
            }
          },
        });
        if (kind === 'follow') await call(source.clients.replication, 'removeReplicaAccess', { replicaId: followId });
        const counts = await tableCountsAt(path.join(rdir, 'run', 'r.sock'));
        if (counts !== want) throw new Error(`the ${kind} replica's row counts differ: source ${want}, replica ${counts}`);
        onePass[kind].push({ hand: h.seconds, coffer: p.seconds });
        rows.push(
          row({
            suite: S,
            name: `MariaDB replica, one-pass PROTOTYPE ${kind} (${kind.startsWith('follow') ? 'stored snapshot followed while written' : 'source agent StreamBackup restored while it arrives'}; no replica agent), round ${r}`,
            bytes: stored,
            seconds: p.seconds,
            mbps: mbps(gen.bytes, p.seconds),
            note: `${p.phases}${detail}; ${(p.seconds / h.seconds).toFixed(2)}x the by-hand time; bytes = the snapshot's; row counts equal the source's`,
          }),
        );
        await round.run();
        rmSync(rdir, { recursive: true, force: true });
      }
    } finally {
      await round.run();
    }
  }
  for (const k of ['none', 'zstd'] as const) {
    rows.push(row({ suite: S, name: `MariaDB replica creation: Coffer (clone, wire ${k}) vs by hand`, note: timeRatioSummary(pairs[k], TARGET).text }));
  }
  for (const k of ONE_PASS) {
    rows.push(row({ suite: S, name: `MariaDB replica creation: one-pass prototype ${k} vs by hand (no replica agent)`, note: timeRatioSummary(onePass[k], TARGET).text }));
  }
  return rows;
}

const loadavg = (): string => osLoadavg()[0]!.toFixed(2);
