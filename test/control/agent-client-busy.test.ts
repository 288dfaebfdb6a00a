// An agent busy with another operation (its lock held: AGENT_ERR_BUSY,
// ABORTED) is relayed by the control as CONTROL_ERR_BUSY: ABORTED on gRPC,
// 409 on REST. ABORTED is what lib/retryable.ts retries, so an API client
// following it asks again, where FAILED_PRECONDITION would have told it not
// to. The agent's answer is the real one: its own lock refusing a second
// operation, turned into a gRPC error by its own error table.
import t from 'tap';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { OperationLock } from '../../agent/lock.js';
import { toServiceError as agentServiceError } from '../../agent/errors.js';
import { relayAgentError } from '../../control/agent-client.js';
import { toServiceError as controlServiceError } from '../../control/errors.js';
import { createLogger } from '../../lib/logger.js';
import { isRetryable } from '../../lib/retryable.js';

const silent = createLogger({ level: 'silent' });

t.test('an agent busy with another operation: the control answers ABORTED / 409 CONTROL_ERR_BUSY', async (t) => {
  const lock = new OperationLock();
  let release!: () => void;
  const held = lock.run('Restart', () => new Promise<void>((r) => (release = r)));
  const refusal = await lock.run('createUsers', async () => undefined).then(
    () => null,
    (err: unknown) => err,
  );
  release();
  await held;
  t.ok(refusal, 'the agent refuses a second operation while one runs');
  const fromAgent = agentServiceError(refusal, silent, 'createUsers') as ServiceError;
  t.equal(fromAgent.code, Status.ABORTED, 'the agent answers ABORTED');

  const relayed = relayAgentError(fromAgent);
  t.equal(relayed.code, 'CONTROL_ERR_BUSY');
  t.equal(relayed.httpStatus, 409, 'REST: 409');
  t.match(relayed.message, /the instance's agent is busy: .*Restart is running.*; retry when it ends/);
  const toCaller = controlServiceError(relayed, silent, 'createUsers') as ServiceError;
  t.equal(toCaller.code, Status.ABORTED, 'gRPC: ABORTED');
  t.equal(toCaller.metadata?.get('coffer-error-code')[0], 'CONTROL_ERR_BUSY');
  t.equal(isRetryable(toCaller), true, 'a caller following lib/retryable.ts asks again');
});
