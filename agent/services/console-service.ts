// coffer.agent.v1.ConsoleService: the gRPC glue of the console
// (agent/console/). The first message logs in; then input and resizes go
// to the client's terminal and its output comes back, until the client
// exits (its exit code is the last message) or the caller goes away (the
// client is stopped).
import type * as grpc from '@grpc/grpc-js';
import { duplexHandler, firstMessage } from '../../lib/grpc-handlers.js';
import type { Logger } from '../../lib/logger.js';
import { ProcessRunner } from '../../lib/process-runner.js';
import { checkPtySize } from '../../lib/pty-process.js';
import { ConsoleServiceService, type ConsoleRequest, type ConsoleResponse, type ConsoleServiceServer } from '../../proto/gen/coffer/agent/v1/console.js';
import type { Agent } from '../agent.js';
import { ConsoleSessions, type ConsoleSession } from '../console/console-sessions.js';
import { invalid, toServiceError } from '../errors.js';

export function addConsoleService(server: grpc.Server, agent: Agent, log: Logger): void {
  const clog = log.child({ component: 'console' });
  const sessions = new ConsoleSessions({
    manager: agent.manager,
    runner: new ProcessRunner(clog),
    log: clog,
    baseDir: agent.layout.baseDir,
    requireRunning: (what) => agent.requireRunning(what),
  });
  const impl: ConsoleServiceServer = {
    console: duplexHandler<ConsoleRequest, ConsoleResponse>({ log, toServiceError }, 'Console', (call, write, signal) => runConsole(sessions, call, write, signal)),
  };
  server.addService(ConsoleServiceService, impl as unknown as grpc.UntypedServiceImplementation);
}

async function runConsole(sessions: ConsoleSessions, call: grpc.ServerDuplexStream<ConsoleRequest, ConsoleResponse>, write: (res: ConsoleResponse) => void, signal: AbortSignal): Promise<void> {
  // The caller's half-close is a hang-up too: nobody is left to type.
  const hangUp = new AbortController();
  const ended = AbortSignal.any([signal, hangUp.signal]);
  call.on('end', () => hangUp.abort(new Error('the caller ended its side of the stream')));
  const first = await firstMessage(call, ended, () => invalid('the stream ended before its first message (login)'));
  if (!first.login) throw invalid(first.open ? 'the first message must be login (the account and the terminal); open alone names no account' : 'the first message must be login (the account and the terminal)');
  // Messages that come while the client starts wait for it.
  const early: ConsoleRequest[] = [];
  let session: ConsoleSession | null = null;
  let failure: Error | null = null;
  const handle = (m: ConsoleRequest): void => {
    if (!session) {
      early.push(m);
      return;
    }
    if (m.input) session.write(m.input);
    else if (m.resize) {
      const bad = checkPtySize(m.resize.columns, m.resize.rows);
      if (bad) {
        failure = invalid(`resize: ${bad}`);
        hangUp.abort(failure);
      } else session.resize(m.resize.columns, m.resize.rows);
    } else if (m.login || m.open) {
      failure = invalid('login may come only once, first');
      hangUp.abort(failure);
    }
  };
  call.on('data', handle);
  call.resume();
  session = await sessions.open(first.login, (chunk) => write({ output: chunk }), ended);
  for (const m of early.splice(0)) handle(m);
  const code = await session.exited;
  if (failure) throw failure;
  if (!signal.aborted) write({ exitCode: code });
}
