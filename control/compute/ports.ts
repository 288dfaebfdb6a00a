// TCP ports for local instances: free on 127.0.0.1 now and not given to
// another live instance (whose agent may be stopped at the moment).
import { freePort } from '../../lib/free-port.js';

export async function allocatePorts(count: number, taken: ReadonlySet<number>): Promise<number[]> {
  const out: number[] = [];
  for (let tries = 0; out.length < count; tries++) {
    if (tries > 100) throw new Error('could not find free TCP ports on 127.0.0.1');
    const p = await freePort(taken);
    if (!taken.has(p) && !out.includes(p)) out.push(p);
  }
  return out;
}
