// coffer.agent.v1.ConsoleService: the gRPC glue of the console
// (agent/console/). The first message logs in; then input and resizes go
// to the client's terminal and its output comes back, until the client
// exits (its exit code is the last message) or the caller goes away
// (cancelled: the client is stopped). The caller's half-close is the end
// of its input: the client reads end of file, as from Ctrl-D.
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
  // A refused message after the login ends the session: the client is stopped.
  const refused = new AbortController();
  const ended = AbortSignal.any([signal, refused.signal]);
  const first = await firstMessage(call, ended, () => invalid('the stream ended before its first message (login)'));
  if (!first.login) throw invalid(first.open ? 'the first message must be login (the account and the terminal); open alone names no account' : 'the first message must be login (the account and the terminal)');
  // Messages that come while the client starts wait for it; END_OF_INPUT is the caller's half-close.
  const early: Array<ConsoleRequest | typeof END_OF_INPUT> = [];
  let session: ConsoleSession | null = null;
  let failure: Error | null = null;
  // A client may discard what was typed ahead of its prompt (redis-cli's
  // line editor flushes it), Ctrl-D included: after the end of input it is
  // sent again with each output, until the client has exited.
  let inputEnded = false;
  let eofsSent = 0;
  const sendEof = (): void => {
    if (session && eofsSent < MAX_EOFS) {
      eofsSent++;
      session.write(Buffer.from([EOT]));
    }
  };
  const refuse = (message: string): void => {
    failure ??= invalid(message);
    refused.abort(failure);
  };
  const handle = (m: ConsoleRequest | typeof END_OF_INPUT): void => {
    if (!session) {
      early.push(m);
      return;
    }
    // Nothing more to type: the terminal's end of file (Ctrl-D), which each
    // client takes as its exit at its prompt, as it would from a person.
    if (m === END_OF_INPUT) {
      inputEnded = true;
      sendEof();
    } else if (m.input) session.write(m.input);
    else if (m.resize) {
      const bad = checkPtySize(m.resize.columns, m.resize.rows);
      if (bad) refuse(`resize: ${bad}`);
      else session.resize(m.resize.columns, m.resize.rows);
    } else if (m.login || m.open) refuse('login may come only once, first');
  };
  call.on('data', handle);
  call.on('end', () => handle(END_OF_INPUT));
  call.resume();
  session = await sessions.open(
    first.login,
    (chunk) => {
      write({ output: chunk });
      if (inputEnded) sendEof();
    },
    ended,
  );
  for (const m of early.splice(0)) handle(m);
  const code = await session.exited;
  if (failure) throw failure;
  if (!signal.aborted) write({ exitCode: code });
}

const END_OF_INPUT = Symbol('end of input');
/** What a terminal sends for Ctrl-D. */
const EOT = 0x04;
/** Ctrl-Ds sent after the end of input, at most (a client that ignores them is left to its caller). */
const MAX_EOFS = 64;
