// The eject workflow (eject_replica_source, and the automatic failover): the
// source S is gone. Each reachable replica's latest transaction id is read;
// the most advanced is found by asking the agents (WaitForTransaction with
// no wait answers whether one has applied another's id: ids are compared as
// the datastore orders them, never here); it is enabled as source, the
// others re-point at it. Every member is EJECT while it runs.
//
// S was fenced when the task was recorded (submitEject): if its agent comes
// back it is told FENCED, and once the eject has ended the conductor starts
// the rejoin that demotes it (control/workflows/replication/rejoin.ts). At
// the end S's record is a replica of the new source, fenced, in ERROR with
// a fault saying it was ejected (ERROR, not SHUTDOWN: its datastore may
// well be running, and it needs the rejoin before it is usable again).
import type { ControlContext } from '../../context.js';
import type { InstanceRow } from '../../store/instances.js';
import type { Workflow } from '../../tasks/workflow.js';
import { addAccess, repoint, enableAsSource, latestTransactionId, liveRow, waitFor } from './agent-steps.js';
import { sourceInfo, type AccessInfo } from './source-info.js';

export interface EjectData {
  sourceId: string;
  /** The live, unfenced replicas when the eject was asked for. */
  replicaIds: string[];
  /** Latest transaction id of each replica that answered. */
  positions?: Record<string, string>;
  newSourceId?: string;
  /** Set before the chosen replica is asked to take writes. */
  enabled?: boolean;
  /**
   * The new source's latest transaction when it was promoted: what the old
   * source had beyond it never reached the new source (the rejoin reports it).
   */
  promotedAt?: string;
  /** Access on the new source for the other answering replicas (same order as `followers`). */
  followers?: string[];
  access?: AccessInfo[];
  repointed?: string[];
}

const POSITION_TIMEOUT_MS = 10_000;

export function ejectWorkflow(c: ControlContext): Workflow<EjectData> {
  return {
    kind: 'eject',
    deadlineMs: c.config.taskDeadlineMs,
    steps: [
      {
        name: 'positions',
        async run(ctx) {
          if (ctx.data.positions) return;
          const positions: Record<string, string> = {};
          await Promise.all(ctx.data.replicaIds.map(async (id) => {
            const r = c.instances.get(id);
            if (!r) return;
            try {
              positions[id] = await latestTransactionId(c, r, POSITION_TIMEOUT_MS);
            } catch (err) {
              c.log.warn({ instance: id, err: (err as Error).message }, 'a replica did not answer during the eject');
            }
          }));
          if (Object.keys(positions).length === 0) throw new Error('no replica of the source answered; nothing can take over');
          ctx.data.positions = positions;
          ctx.progress({ phase: 'positions', message: `replica positions: ${Object.entries(positions).map(([id, p]) => `${id}=${p || 'none'}`).join(', ')}` });
        },
      },
      {
        name: 'choose',
        async run(ctx) {
          const d = ctx.data;
          if (d.newSourceId) return;
          const ids = Object.keys(d.positions!).sort();
          // The one that has applied what every other has (ties: the first in id order).
          let best = ids[0]!;
          let bestCount = -1;
          for (const a of ids) {
            let count = 0;
            for (const b of ids) {
              if (a === b || !d.positions![b]) { count++; continue; }
              const r = await waitFor(c, liveRow(c, a), d.positions![b]!, 0);
              if (r.reached) count++;
            }
            if (count > bestCount) {
              best = a;
              bestCount = count;
            }
          }
          d.newSourceId = best;
          d.followers = ids.filter((id) => id !== best);
          ctx.progress({ phase: 'choose', message: `${best} is the most advanced replica (${d.positions![best] || 'empty'})` });
        },
      },
      {
        name: 'enable',
        async run(ctx) {
          if (!ctx.data.enabled) {
            ctx.data.enabled = true;
            ctx.save();
          }
          const at = await enableAsSource(c, liveRow(c, ctx.data.newSourceId!));
          // Asked again after a restart, the agent answers its latest id, which may be later.
          ctx.data.promotedAt ??= at;
        },
      },
      {
        name: 'access',
        async run(ctx) {
          if (ctx.data.access) return;
          ctx.data.access = await addAccess(c, liveRow(c, ctx.data.newSourceId!), ctx.data.followers!);
        },
      },
      {
        name: 'repoint-replicas',
        async run(ctx) {
          const d = ctx.data;
          d.repointed ??= [];
          const source = liveRow(c, d.newSourceId!);
          for (const [i, id] of d.followers!.entries()) {
            if (d.repointed.includes(id)) continue;
            const r = c.instances.get(id);
            if (r) await repoint(c, r, sourceInfo(c, source, d.access![i]!));
            d.repointed.push(id);
            ctx.save();
          }
        },
      },
      {
        name: 'records',
        commit(ctx) {
          recordEjected(c, ctx.data, '');
        },
      },
    ],
    onFailed: (_task, data, step, message) => {
      if (!data.enabled) {
        // Nobody took over: S is the source again (unfenced), in ERROR as it is gone.
        const s = c.instances.get(data.sourceId);
        if (s) {
          c.instances.update(s.id, { fenced: 0, status: 'ERROR', task_id: null });
          c.instances.addFault(s.id, step, `eject failed, this instance is still the source: ${message}`);
        }
        for (const r of c.instances.replicasOf(data.sourceId)) {
          c.instances.update(r.id, r.fenced ? { task_id: null } : { status: 'ACTIVE', task_id: null });
          c.events.emit('instance', r.id);
        }
        c.events.emit('instance', data.sourceId);
        return;
      }
      recordEjected(c, data, `eject failed at ${step}: ${message}`);
    },
  };
}

/**
 * The new source and every member of the old set as a replica of it. A
 * member that is not following it (did not answer, or was not re-pointed
 * before a failure) is fenced, in ERROR with a fault, and rejoins when its
 * agent reports.
 */
function recordEjected(c: ControlContext, d: EjectData, why: string): void {
  const old = c.instances.get(d.sourceId);
  const nsId = d.newSourceId!;
  const ns = c.instances.get(nsId);
  const set = (id: string, patch: Partial<Pick<InstanceRow, 'status' | 'replica_of' | 'fenced' | 'auto_failover'>>): void => {
    c.instances.update(id, { task_id: null, ...patch });
    c.events.emit('instance', id);
  };
  if (ns) set(nsId, { status: 'ACTIVE', replica_of: null, fenced: 0, auto_failover: old?.auto_failover ?? 0 });
  for (const r of c.instances.replicasOf(d.sourceId)) {
    if (r.id === nsId) continue;
    const following = d.repointed?.includes(r.id) ?? false;
    if (following) set(r.id, { status: 'ACTIVE', replica_of: nsId });
    else if (r.fenced) set(r.id, { replica_of: nsId });
    else {
      set(r.id, { status: 'ERROR', replica_of: nsId, fenced: 1 });
      c.instances.addFault(r.id, 'eject', `${why || 'it did not answer during the eject'}; it rejoins the new source ${ns?.name ?? nsId} (${nsId}) as a replica when its agent reports`);
    }
  }
  if (old) {
    set(old.id, { status: 'ERROR', replica_of: nsId, fenced: 1, auto_failover: 0 });
    c.instances.addFault(old.id, 'eject', `ejected as the source: its agent stopped reporting and ${ns?.name ?? nsId} (${nsId}) took over${why ? ` (${why})` : ''}; it takes no writes and rejoins as a replica when its agent reports again`);
  }
}
