// Building new members (create and grow): each is built with the create
// workflow's own steps (allocate, with the strategy's cluster ports;
// certificates; config; agent; Prepare), in parallel. A member whose build
// finished is recorded and skipped when the step runs again after a
// control restart; Prepare itself skips an agent that is prepared already.
import type { ControlContext } from '../../context.js';
import type { StepContext } from '../../tasks/workflow.js';
import { buildSteps, type CreateData } from '../create.js';

export interface MemberBuilds {
  /** One create's data per new member. */
  builds: CreateData[];
  /** New members whose build (Prepare included) has finished. */
  built: string[];
}

export async function buildMembers<D extends MemberBuilds>(c: ControlContext, ctx: StepContext<D>): Promise<void> {
  const steps = buildSteps(c);
  const d = ctx.data;
  const one = async (b: CreateData): Promise<void> => {
    if (d.built.includes(b.instanceId)) return;
    const name = c.instances.get(b.instanceId)?.name ?? b.instanceId;
    for (const s of steps) {
      await s.run(b, { signal: ctx.signal, progress: (p) => ctx.progress({ ...p, message: `${name}: ${p.message}` }) });
      // The allocation and certificates are kept as each step ends.
      ctx.save();
    }
    d.built.push(b.instanceId);
    ctx.save();
  };
  const results = await Promise.allSettled(d.builds.map(one));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ id: d.builds[i]!.instanceId, err: r.reason as Error }] : []));
  if (failed.length === 0) return;
  // The first failure's cause decides whether the engine asks again;
  // members built already are skipped then.
  throw new Error(failed.map((f) => `member ${f.id}: ${f.err?.message ?? String(f.err)}`).join('; '), { cause: failed[0]!.err });
}
