// coffer.control.v1.ConsoleService: a console session relayed to the
// instance's agent over mutual TLS (coffer.agent.v1.ConsoleService). The
// first message names the instance and the login; the control checks the
// caller's project and the instance's status, then passes messages both
// ways until either side ends. A caller who goes away cancels the agent's
// stream, which stops the client on the instance.
import type * as grpc from '@grpc/grpc-js';
import { duplexHandler, firstMessage } from '../../lib/grpc-handlers.js';
import type { ConsoleRequest as AgentConsoleRequest, ConsoleResponse as AgentConsoleResponse } from '../../proto/gen/coffer/agent/v1/console.js';
import { ConsoleServiceService, type ConsoleRequest, type ConsoleResponse, type ConsoleServiceServer } from '../../proto/gen/coffer/control/v1/console.js';
import { relayAgentError } from '../agent-client.js';
import type { ControlContext } from '../context.js';
import { invalid, toServiceError } from '../errors.js';
import { consoleAgent } from '../service/console.js';
import { scopeOf } from './handlers.js';

export function addConsoleService(server: grpc.Server, c: ControlContext): void {
  const impl: ConsoleServiceServer = {
    console: duplexHandler<ConsoleRequest, ConsoleResponse>({ log: c.log, toServiceError }, 'Console', (call, write, signal) => relay(c, call, write, signal)),
  };
  server.addService(ConsoleServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}

async function relay(c: ControlContext, call: grpc.ServerDuplexStream<ConsoleRequest, ConsoleResponse>, write: (res: ConsoleResponse) => void, signal: AbortSignal): Promise<void> {
  const scope = scopeOf(c.db, call.metadata);
  const first = await firstMessage(call, signal, () => invalid('the stream ended before its first message (open)'));
  if (!first.open) throw invalid('the first message must be open (the instance, the account and the terminal)');
  if (!first.open.login) throw invalid('open.login is missing: give the account and the terminal');
  const { instance, clients } = consoleAgent(c, scope, first.open.instanceId);
  try {
    const upstream = clients.console.console();
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: unknown): void => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => {
        upstream.cancel();
        finish();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      upstream.on('data', (m: AgentConsoleResponse) => write(m));
      upstream.on('end', () => finish());
      upstream.on('error', (err) => finish(signal.aborted ? undefined : relayAgentError(err)));
      const send = (m: AgentConsoleRequest): void => {
        if (!done) upstream.write(m);
      };
      send({ login: first.open!.login });
      call.on('data', (m: ConsoleRequest) => {
        if (m.input) send({ input: m.input });
        else if (m.resize) send({ resize: m.resize });
        else if (m.open) {
          upstream.cancel();
          finish(invalid('open may come only once, first'));
        }
      });
      // The caller's half-close reaches the agent as its own (a hang-up there).
      call.on('end', () => {
        if (!done) upstream.end();
      });
      call.resume();
    });
  } finally {
    clients.close();
    c.log.debug({ instanceId: instance.id }, 'console session relayed');
  }
}
