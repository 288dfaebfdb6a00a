import t from 'tap';
import { AGENT_ERRORS, AgentError, type AgentErrorCode } from '../../agent/errors.js';

t.test('every agent error code builds an error carrying that code and its statuses', async (t) => {
  for (const code of Object.keys(AGENT_ERRORS) as AgentErrorCode[]) {
    const err = new AgentError(code, 'x');
    t.equal(err.code, code);
    t.equal(err.grpcStatus, AGENT_ERRORS[code].grpc);
    t.equal(err.httpStatus, AGENT_ERRORS[code].http);
    t.ok(code.startsWith('AGENT_ERR_'));
  }
});
