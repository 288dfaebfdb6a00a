// The switchover workflow (promote_to_replica_source on a replica C of
// source S), in the order that loses no acknowledged transaction
// (docs/replication.md): S read-only and its last transaction id T; C
// waits for T; C enabled as source; C gives access to S and the other
// replicas; the others re-point at C; S is demoted to a replica of C. Every
// member is PROMOTE while it runs and ACTIVE after.
//
// Failure: before C was asked to take writes, S is made writable again and
// the set is as it was (one writable source). After, C is the source: S
// and any replica not yet re-pointed are fenced (ERROR with a fault) and
// rejoin C when their agents report (control/conductor), so there are
// never two writable sources.
import type { ControlContext } from '../../context.js';
import type { InstanceRow } from '../../store/instances.js';
import { PermanentStepError, type Workflow } from '../../tasks/workflow.js';
import { addAccess, repoint, demote, enableAsSource, liveRow, makeReadOnly, waitFor } from './agent-steps.js';
import { sourceInfo, type AccessInfo } from './source-info.js';

export interface SwitchoverData {
  sourceId: string;
  candidateId: string;
  /** The other live replicas, re-pointed at the candidate. */
  otherIds: string[];
  /** S's last transaction once read-only. */
  transactionId?: string;
  /** Set before C is asked to take writes: from then on C is the source whatever happens. */
  candidateEnabled?: boolean;
  /** C's latest transaction when it was promoted (S is demoted against it). */
  promotedAt?: string;
  /** Access on C for [S, ...otherIds]. */
  access?: AccessInfo[];
  repointed?: string[];
  diverged?: string;
}

/** How long C may take to apply S's last transaction. */
const CATCH_UP_SECONDS = 120;

export function switchoverWorkflow(c: ControlContext): Workflow<SwitchoverData> {
  return {
    kind: 'switchover',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'source-read-only',
        async run(ctx) {
          if (ctx.data.transactionId !== undefined) return;
          ctx.data.transactionId = await makeReadOnly(c, liveRow(c, ctx.data.sourceId), true);
          ctx.progress({ phase: 'read-only', message: `the source refuses writes; its last transaction is ${ctx.data.transactionId}` });
        },
      },
      {
        name: 'candidate-catch-up',
        async run(ctx) {
          const t = ctx.data.transactionId!;
          const r = await waitFor(c, liveRow(c, ctx.data.candidateId), t, CATCH_UP_SECONDS);
          if (!r.reached) throw new PermanentStepError(`the replica did not apply the source's last transaction ${t} within ${CATCH_UP_SECONDS} s (it is at ${r.transactionId || 'nothing'})`);
        },
      },
      {
        name: 'candidate-enable',
        async run(ctx) {
          if (!ctx.data.candidateEnabled) {
            ctx.data.candidateEnabled = true;
            ctx.save();
          }
          const at = await enableAsSource(c, liveRow(c, ctx.data.candidateId));
          ctx.data.promotedAt ??= at;
        },
      },
      {
        name: 'access',
        async run(ctx) {
          if (ctx.data.access) return;
          ctx.data.access = await addAccess(c, liveRow(c, ctx.data.candidateId), [ctx.data.sourceId, ...ctx.data.otherIds]);
        },
      },
      {
        name: 'repoint-replicas',
        async run(ctx) {
          const d = ctx.data;
          d.repointed ??= [];
          const candidate = liveRow(c, d.candidateId);
          for (const [i, id] of d.otherIds.entries()) {
            if (d.repointed.includes(id)) continue;
            const r = c.instances.get(id);
            if (r) await repoint(c, r, sourceInfo(c, candidate, d.access![i + 1]!));
            d.repointed.push(id);
            ctx.save();
          }
        },
      },
      {
        name: 'demote-source',
        async run(ctx) {
          if (ctx.data.diverged !== undefined) return;
          // The position is where C took over: what S had beyond it would be reported as diverged (none, as S was read-only from T).
          const access = { ...ctx.data.access![0]!, position: ctx.data.promotedAt ?? ctx.data.transactionId ?? '' };
          ctx.data.diverged = await demote(c, liveRow(c, ctx.data.sourceId), sourceInfo(c, liveRow(c, ctx.data.candidateId), access));
        },
      },
      {
        name: 'records',
        commit(ctx) {
          recordNewSource(c, ctx.data, () => 'ACTIVE');
          if (ctx.data.diverged) c.instances.addFault(ctx.data.sourceId, 'demote-source', `transactions that never reached the new source: ${ctx.data.diverged}`);
        },
      },
    ],
    onFailed: (_task, data, step, message) => {
      if (!data.candidateEnabled) {
        // Nothing took writes but S: the set is as it was, S writable again.
        for (const id of [data.sourceId, data.candidateId, ...data.otherIds]) release(c, id, {});
        c.instances.addFault(data.candidateId, step, `switchover failed, the source is unchanged: ${message}`);
        setImmediate(() => void writableAgain(c, data.sourceId));
        return;
      }
      recordNewSource(c, data, (id) => (id === data.candidateId || data.repointed?.includes(id) ? 'ACTIVE' : 'FENCE'), `switchover failed at ${step}: ${message}`);
    },
  };
}

function release(c: ControlContext, id: string, patch: Partial<Pick<InstanceRow, 'replica_of' | 'auto_failover' | 'fenced' | 'status'>>): void {
  const r = c.instances.get(id);
  if (!r) return;
  c.instances.update(id, { task_id: null, ...(r.fenced || patch.fenced ? {} : { status: 'ACTIVE' }), ...patch });
  c.events.emit('instance', id);
}

/**
 * C is the source: every other member of the old set follows it. A member
 * `outcome` says is not following yet is fenced (ERROR with a fault) and
 * rejoins C when its agent reports.
 */
function recordNewSource(c: ControlContext, d: SwitchoverData, outcome: (id: string) => 'ACTIVE' | 'FENCE', why = ''): void {
  const source = c.instances.get(d.sourceId);
  release(c, d.candidateId, { replica_of: null, auto_failover: source?.auto_failover ?? 0, fenced: 0 });
  const demoted = d.diverged !== undefined;
  const members = [d.sourceId, ...c.instances.replicasOf(d.sourceId).map((r) => r.id)].filter((id) => id !== d.candidateId);
  for (const id of members) {
    const fence = id === d.sourceId ? !demoted : d.otherIds.includes(id) && outcome(id) === 'FENCE';
    if (fence) {
      release(c, id, { replica_of: d.candidateId, auto_failover: 0, fenced: 1, status: 'ERROR' });
      c.instances.addFault(id, 'switchover', `${why || 'switchover ended'}; it no longer takes writes and rejoins the new source ${d.candidateId} as a replica when its agent reports`);
    } else {
      release(c, id, { replica_of: d.candidateId, auto_failover: 0 });
    }
  }
}

/** After a failed switchover that never enabled C: S takes writes again (a few tries; else ERROR with a fault). */
async function writableAgain(c: ControlContext, sourceId: string): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 5; i++) {
    const s = c.instances.get(sourceId);
    if (!s) return;
    try {
      await makeReadOnly(c, s, false);
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  c.log.warn({ instance: sourceId, err: (last as Error)?.message }, 'the source could not be made writable again after a failed switchover');
  c.instances.update(sourceId, { status: 'ERROR' });
  c.instances.addFault(sourceId, 'switchover', `the switchover failed and the source could not be made writable again: ${(last as Error)?.message ?? last}; restart the instance`);
  c.events.emit('instance', sourceId);
}
