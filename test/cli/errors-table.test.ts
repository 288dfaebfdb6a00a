// Locks the CLI's error table: every gRPC status becomes a sentence and a
// documented exit status, and progress only moves forward.
import t from 'tap';
import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { EXIT, fromGrpc, toCliError } from '../../cli/errors.js';
import { OverallProgress } from '../../cli/watch.js';

const grpcError = (code: Status, details: string, controlCode = ''): ServiceError => {
  const metadata = new Metadata();
  if (controlCode) metadata.set('coffer-error-code', controlCode);
  return Object.assign(new Error(`${code} ${Status[code]}: ${details}`), { code, details, metadata });
};

t.test('every gRPC status maps to an exit status in the table and a sentence', async (t) => {
  const exits = new Set<number>(Object.values(EXIT));
  for (const [name, code] of Object.entries(Status).filter(([, v]) => typeof v === 'number' && v !== 0) as Array<[string, Status]>) {
    const e = fromGrpc(grpcError(code, 'instance x is BUILD; restart needs it ACTIVE'), { endpoint: '127.0.0.1:8780' });
    t.ok(exits.has(e.exitCode), `${name} exits with a documented status (${e.exitCode})`);
    t.ok(e.message.length > 10 && !/^\d+ [A-Z_]+:/.test(e.message), `${name} reads as a sentence: ${e.message}`);
    t.equal(e.cause instanceof Error, true, `${name} keeps its cause`);
  }
  t.equal(fromGrpc(grpcError(Status.UNAUTHENTICATED, 'the token is not known'), { endpoint: 'h:1' }).exitCode, EXIT.AUTH);
  t.match(fromGrpc(grpcError(Status.UNAVAILABLE, 'No connection established'), { endpoint: 'h:1' }).message, /cannot reach coffer-control at h:1: is it running\?/);
  t.match(
    fromGrpc(grpcError(Status.UNAVAILABLE, 'the instance\'s agent did not answer: x', 'CONTROL_ERR_AGENT_UNREACHABLE'), { endpoint: 'h:1' }).message,
    /agent did not answer/,
    'an unreachable agent is not mistaken for an unreachable control',
  );
  const storage = fromGrpc(grpcError(Status.UNAVAILABLE, 'backup b: removing its object from swift failed (x); the backup is kept, try the delete again', 'CONTROL_ERR_STORAGE'), { endpoint: 'h:1' });
  t.equal(storage.message, 'backup b: removing its object from swift failed (x); the backup is kept, try the delete again', 'a failing backup store is not mistaken for an unreachable control');
  t.equal(storage.exitCode, EXIT.UNAVAILABLE);
  const busy = fromGrpc(grpcError(Status.ABORTED, 'the instance\'s agent is busy: cannot createUsers: Restart is running; retry when it ends', 'CONTROL_ERR_BUSY'), { endpoint: 'h:1' });
  t.equal(busy.message, 'the instance\'s agent is busy: cannot createUsers: Restart is running; retry when it ends', 'a busy agent says to retry');
  t.equal(busy.exitCode, EXIT.CONFLICT);
  t.match(toCliError(new TypeError('boom'), { endpoint: 'h:1' }).message, /unexpected error: boom \(set COFFER_DEBUG=1/);
});

t.test('overall progress is weighted by step and never goes back', async (t) => {
  const p = new OverallProgress(['allocate', 'start-agent', 'prepare', 'activate']);
  const ev = (step: string, percent: number, phase = 'x') => ({ taskId: 't', step, phase, message: '', percent, bytesDone: 0, bytesTotal: 0, atMs: 0 });
  const seen = [p.percent(ev('allocate', 0)), p.percent(ev('prepare', 50)), p.percent(ev('prepare', 10)), p.percent(ev('activate', 0)), p.percent(ev('activate', 0, 'done'))];
  t.same(seen, [...seen].sort((a, b) => a - b), 'monotonic');
  t.ok(seen[1]! > 40 && seen[1]! < 70, `half of prepare is about half of the whole (${seen[1]})`);
  t.equal(seen.at(-1), 100, 'done is 100%');
});
