// Locks the agent's error table: shared code (strategies/, lib/) throws a
// CofferError of a kind, and the caller sees the agent's code for that kind
// with its gRPC status, as it did when that code threw AgentErrors itself.
import t from 'tap';
import { status as Status } from '@grpc/grpc-js';
import { AGENT_CODE_OF_KIND, AGENT_ERRORS, AgentError, toServiceError, type AgentErrorCode } from '../../agent/errors.js';
import { CofferError, type ErrorKind } from '../../lib/coded-error.js';
import { createLogger } from '../../lib/logger.js';

const log = createLogger({ level: 'silent' });

const seen = (err: unknown) => {
  const e = toServiceError(err, log, 'Test');
  return { grpc: e.code, details: e.details, code: e.metadata?.get('coffer-error-code')[0] };
};

t.test('a CofferError of each kind a strategy throws reaches the caller as the agent code of that kind', async (t) => {
  const expected: Array<[ErrorKind, AgentErrorCode, Status]> = [
    ['INVALID_ARGUMENT', 'AGENT_ERR_INVALID_ARGUMENT', Status.INVALID_ARGUMENT],
    ['NOT_FOUND', 'AGENT_ERR_NOT_FOUND', Status.NOT_FOUND],
    ['CANCELLED', 'AGENT_ERR_CANCELLED', Status.CANCELLED],
    ['DATASTORE', 'AGENT_ERR_DATASTORE', Status.INTERNAL],
    ['STORAGE', 'AGENT_ERR_STORAGE', Status.UNAVAILABLE],
    ['INTEGRITY', 'AGENT_ERR_INTEGRITY', Status.DATA_LOSS],
  ];
  for (const [kind, code, grpc] of expected) {
    t.same(seen(new CofferError(kind, `a ${kind} failure`)), { grpc, details: `a ${kind} failure`, code }, kind);
  }
});

t.test('every kind the agent maps names a code whose error has that kind', async (t) => {
  for (const [kind, code] of Object.entries(AGENT_CODE_OF_KIND) as Array<[ErrorKind, AgentErrorCode]>) {
    t.equal(new AgentError(code, 'x').kind, kind, `${kind} -> ${code}`);
    t.same(seen(new CofferError(kind, 'x')), { grpc: AGENT_ERRORS[code].grpc, details: 'x', code }, kind);
  }
});

t.test('a kind the agent has no code for, or any other thrown value, is INTERNAL with a generic message', async (t) => {
  t.same(seen(new CofferError('UNAUTHENTICATED', 'secret detail')), { grpc: Status.INTERNAL, details: 'internal error in Test; see the agent log', code: 'AGENT_ERR_INTERNAL' });
  t.same(seen(new TypeError('secret detail')), { grpc: Status.INTERNAL, details: 'internal error in Test; see the agent log', code: 'AGENT_ERR_INTERNAL' });
});

t.test('an AgentError keeps its own code even where its kind maps elsewhere', async (t) => {
  t.same(seen(new AgentError('AGENT_ERR_ALREADY_PREPARED', 'prepared')), { grpc: Status.FAILED_PRECONDITION, details: 'prepared', code: 'AGENT_ERR_ALREADY_PREPARED' });
});
