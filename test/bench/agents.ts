// Real agents for the benchmarks, started through the test harness
// (test/support/agent.ts: the built bin/coffer-agent as a child process),
// prepared, and given a deployment's backup directory and wrapping key.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startAgent, collect, type AgentProcess } from '../support/agent.js';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';
import { BackupType, type BackupArtifact, type CreateBackupResponse } from '../../proto/gen/coffer/agent/v1/backup.js';
import { DatastoreState, type PrepareResponse } from '../../proto/gen/coffer/agent/v1/lifecycle.js';
import { mbps, row, sampleRss, timed, withMachineCpu, type Pair, type Row, type Teardown } from './harness.js';

const EMPTY_PREPARE = { datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, restore: undefined, replicaOf: undefined };

/** A backup directory and a 0600 wrapping key under `root`; the agent flags that use them. */
export function deployment(root: string): { backupDir: string; agentArgs: string[] } {
  const keyFile = path.join(root, 'backup.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const backupDir = path.join(root, 'backups');
  return { backupDir, agentArgs: ['--backup-dir', backupDir, '--backup-key-file', keyFile, '--log-level', 'warn'] };
}

/** Node flags for a bench's agents: the agent's own plus --cpu-prof into BENCH_CPU_PROF when it is set. */
export function profileFlags(cpuProf: string | undefined): readonly string[] | undefined {
  return cpuProf ? [...AGENT_NODE_FLAGS, '--cpu-prof', `--cpu-prof-dir=${cpuProf}`] : undefined;
}

export async function preparedAgent(td: Teardown, baseDir: string, datastore: string, extraArgs: string[], nodeFlags?: readonly string[]): Promise<AgentProcess> {
  const agent = await startAgent(td, { baseDir, datastore, extraArgs, nodeFlags });
  const events = await collect<PrepareResponse>(agent.clients.lifecycle.prepare(EMPTY_PREPARE));
  const state = events.at(-1)?.result?.state;
  if (state !== DatastoreState.DATASTORE_STATE_ACTIVE) throw new Error(`Prepare of ${datastore} ended in state ${state}`);
  return agent;
}

/** CreateBackup (full, default compression, default storage) to its artifact. */
/** Prepare from a backup, to a time when `targetUnixSeconds` is given; throws unless it ends ACTIVE. Returns its events. */
export async function prepareFromBackup(agent: AgentProcess, full: BackupArtifact, targetUnixSeconds?: number): Promise<PrepareResponse[]> {
  const events = await collect<PrepareResponse>(
    agent.clients.lifecycle.prepare({
      datastoreVersion: '', rootPassword: '', databases: [], users: [], overrides: {}, replicaOf: undefined,
      restore: { location: full.location, backupId: full.metadata!.backupId, rewrapped: undefined, target: targetUnixSeconds === undefined ? undefined : { timeUnixSeconds: targetUnixSeconds }, archive: undefined },
    }),
  );
  if (events.at(-1)?.result?.state !== DatastoreState.DATASTORE_STATE_ACTIVE) throw new Error('Prepare did not end ACTIVE');
  return events;
}

export async function createBackup(agent: AgentProcess, backupId: string, strategy = ''): Promise<BackupArtifact> {
  const events = await collect<CreateBackupResponse>(
    agent.clients.backup.createBackup({ backupId, type: BackupType.BACKUP_TYPE_FULL, strategy, parent: undefined, storage: undefined, compression: '' }),
  );
  const artifact = events.at(-1)?.artifact;
  if (!artifact?.metadata || !artifact.location) throw new Error('CreateBackup ended without an artifact');
  return artifact;
}

/**
 * One CreateBackup as the backup benches measure it: its seconds, the
 * agent's memory and CPU across it (sampleRss) and the whole machine's CPU
 * (withMachineCpu's note).
 */
export async function measuredBackup(agent: AgentProcess, backupId: string, strategy = '') {
  const rss = sampleRss(agent.proc.pid!);
  const { value, cpuNote } = await withMachineCpu(() => timed(() => createBackup(agent, backupId, strategy)));
  const mem = rss.stop();
  return { artifact: value.value, metadata: value.value.metadata!, seconds: value.seconds, mem, peakRssMb: Math.max(mem.sampledPeakMb, mem.hwmMb), cpuNote };
}

/**
 * One round of a backup bench's Coffer side: a measuredBackup, its pair
 * with the bare pipeline's seconds, and its row. `mbpsOf` picks the bytes
 * the MB/s figure is of (the dataset, or the raw bytes the tool produced);
 * `note` begins the row's note, and the speed ratio, agent CPU and memory
 * and the machine's CPU follow it. The artifact is returned so the bench
 * can remove the object.
 */
export async function cofferRound(
  agent: AgentProcess,
  o: { suite: string; backupId: string; strategy: string; name: string; bareSeconds: number; mbpsOf: (rawBytes: number) => number; note: (rawBytes: number, ratio: string, seconds: number) => string },
  pairs: Pair[],
): Promise<{ row: Row; artifact: BackupArtifact }> {
  const c = await measuredBackup(agent, o.backupId, o.strategy);
  const m = c.metadata;
  pairs.push({ bare: o.bareSeconds, coffer: c.seconds });
  const r = row({
    suite: o.suite,
    name: o.name,
    bytes: m.storedBytes,
    seconds: c.seconds,
    mbps: mbps(o.mbpsOf(m.rawBytes), c.seconds),
    peakRssMb: c.peakRssMb,
    note: `${o.note(m.rawBytes, (o.bareSeconds / c.seconds).toFixed(2), c.seconds)}; agent CPU ${c.mem.cpuSeconds.toFixed(1)} s, RSS at start ${c.mem.startMb.toFixed(1)} MB; ${c.cpuNote}`,
  });
  return { row: r, artifact: c.artifact };
}
