// Locks the agent's error table (lib/error-table.ts checks, test/support/
// error-table.ts), and that shared code (strategies/, lib/) throwing a
// CofferError of a kind reaches the caller as the agent's code for that kind
// with its gRPC status, as when that code threw AgentErrors itself.
import t from 'tap';
import { status as Status } from '@grpc/grpc-js';
import { AGENT_ERROR_SPEC, AgentError, toServiceError, type AgentErrorCode } from '../../agent/errors.js';
import { CofferError, type ErrorKind } from '../../lib/coded-error.js';
import { lockErrorTable, seen } from '../support/error-table.js';

lockErrorTable<AgentErrorCode>(t, {
  spec: AGENT_ERROR_SPEC,
  prefix: 'AGENT_ERR_',
  build: (code, message) => new AgentError(code, message),
  toServiceError,
  statuses: {
    AGENT_ERR_INVALID_ARGUMENT: ['INVALID_ARGUMENT', 400],
    AGENT_ERR_NOT_FOUND: ['NOT_FOUND', 404],
    AGENT_ERR_ALREADY_EXISTS: ['ALREADY_EXISTS', 409],
    AGENT_ERR_ALREADY_PREPARED: ['FAILED_PRECONDITION', 409],
    AGENT_ERR_NOT_READY: ['FAILED_PRECONDITION', 409],
    AGENT_ERR_BUSY: ['ABORTED', 409],
    AGENT_ERR_UNIMPLEMENTED: ['UNIMPLEMENTED', 501],
    AGENT_ERR_CANCELLED: ['CANCELLED', 499],
    AGENT_ERR_TIMEOUT: ['DEADLINE_EXCEEDED', 504],
    AGENT_ERR_DATASTORE: ['INTERNAL', 500],
    AGENT_ERR_STORAGE: ['UNAVAILABLE', 503],
    AGENT_ERR_INTEGRITY: ['DATA_LOSS', 422],
    AGENT_ERR_INTERNAL: ['INTERNAL', 500],
  },
});

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
    t.same(seen(toServiceError, new CofferError(kind, `a ${kind} failure`)), { grpc, details: `a ${kind} failure`, code }, kind);
  }
});

t.test('an AgentError keeps its own code where its kind maps to another', async (t) => {
  t.same(seen(toServiceError, new AgentError('AGENT_ERR_ALREADY_PREPARED', 'prepared')), { grpc: Status.FAILED_PRECONDITION, details: 'prepared', code: 'AGENT_ERR_ALREADY_PREPARED' });
});
