// The one list of retryable failures: every gRPC status is decided, agent
// codes that differ from their status are honoured, and the answer is found
// through wrapping errors' causes.
import t from 'tap';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { isRetryable, isRetryableHttpStatus, RETRYABLE_S3_ERROR_CODE, RETRYABLE_STATUS, statusErrorOf } from '../../lib/retryable.js';
import { PermanentStepError } from '../../control/tasks/workflow.js';

/** A status error shaped as grpc-js rejects a call with it. */
function answer(code: GrpcStatus, agentCode = ''): Error {
  const metadata = new Metadata();
  if (agentCode) metadata.set('coffer-error-code', agentCode);
  return Object.assign(new Error(`${code} ${agentCode}`), { code, details: `details of ${agentCode || code}`, metadata });
}

t.test('every gRPC status is decided, as the Temporal SDKs keep it', async (t) => {
  const all = Object.values(GrpcStatus).filter((v): v is GrpcStatus => typeof v === 'number');
  t.same(Object.keys(RETRYABLE_STATUS).map(Number).sort((a, b) => a - b), all.sort((a, b) => a - b), 'one entry per status');
  const retryable = all.filter((s) => RETRYABLE_STATUS[s]).map((s) => GrpcStatus[s]).sort();
  t.same(retryable, ['ABORTED', 'CANCELLED', 'DEADLINE_EXCEEDED', 'INTERNAL', 'RESOURCE_EXHAUSTED', 'UNAVAILABLE', 'UNKNOWN'], 'these are retried');
  for (const s of ['INVALID_ARGUMENT', 'NOT_FOUND', 'ALREADY_EXISTS', 'FAILED_PRECONDITION', 'DATA_LOSS', 'UNIMPLEMENTED', 'PERMISSION_DENIED', 'UNAUTHENTICATED'] as const) {
    t.equal(isRetryable(answer(GrpcStatus[s])), false, `${s} is the same answer every time`);
  }
});

t.test('the agent\'s codes', async (t) => {
  t.equal(isRetryable(answer(GrpcStatus.DATA_LOSS, 'AGENT_ERR_INTEGRITY')), false, 'a damaged backup stays damaged');
  t.equal(isRetryable(answer(GrpcStatus.NOT_FOUND, 'AGENT_ERR_NOT_FOUND')), false, 'a missing backup stays missing');
  t.equal(isRetryable(answer(GrpcStatus.FAILED_PRECONDITION, 'AGENT_ERR_ALREADY_PREPARED')), false, 'a prepared instance stays prepared');
  t.equal(isRetryable(answer(GrpcStatus.FAILED_PRECONDITION, 'AGENT_ERR_NOT_READY')), true, 'a datastore starting or loading gets ready');
  t.equal(isRetryable(answer(GrpcStatus.ABORTED, 'AGENT_ERR_BUSY')), true, 'a busy agent finishes its operation');
  t.equal(isRetryable(answer(GrpcStatus.UNAVAILABLE, 'AGENT_ERR_STORAGE')), true, 'a failing store may come back');
  t.equal(isRetryable(answer(GrpcStatus.INTERNAL, 'AGENT_ERR_DATASTORE')), true, 'a tool that failed may succeed');
  t.equal(isRetryable(answer(GrpcStatus.INVALID_ARGUMENT, 'constructor')), false, 'an unknown code (even a prototype name) falls back to its status');
});

t.test('through causes, and errors that say so themselves', async (t) => {
  const refused = answer(GrpcStatus.DATA_LOSS, 'AGENT_ERR_INTEGRITY');
  const wrapped = new Error('Prepare failed: damaged', { cause: refused });
  t.equal(isRetryable(wrapped), false, 'a wrapped refusal is still a refusal');
  t.equal(statusErrorOf(new Error('outer', { cause: wrapped })), refused, 'the status error is found two causes down');
  t.equal(isRetryable(new Error('the agent did not answer', { cause: answer(GrpcStatus.UNAVAILABLE) })), true, 'a wrapped UNAVAILABLE is retried');
  t.equal(isRetryable(new PermanentStepError('the instance was deleted')), false, 'a PermanentStepError is not retried');
  t.equal(isRetryable(new Error('spawn failed')), true, 'a local failure with no status is retried (attempts and the deadline bound it)');
  t.equal(isRetryable(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })), true, 'a system error is no gRPC answer');
});

t.test("the object stores' HTTP answers: server errors, timeouts, throttling and no answer at all are retried; refusals are not", async (t) => {
  for (const s of [500, 502, 503, 504, 408, 429, undefined]) t.equal(isRetryableHttpStatus(s), true, `${s ?? 'no answer'} is retried`);
  for (const s of [400, 401, 403, 404, 409, 411, 412, 422]) t.equal(isRetryableHttpStatus(s), false, `${s} is not`);
  t.ok(RETRYABLE_S3_ERROR_CODE.has('RequestTimeout') && RETRYABLE_S3_ERROR_CODE.has('SlowDown'), "S3's 400 RequestTimeout and 503 SlowDown pass by themselves");
  t.notOk(RETRYABLE_S3_ERROR_CODE.has('AccessDenied'));
});
