// A daemon whose standard output or error reader went away (`coffer-agent |
// head`, a closed terminal, a supervisor's pipe) keeps running: a write to
// the broken pipe fails with EPIPE, which would otherwise surface as an
// unhandled 'error' event and end the process. What was written there (the
// logs, the 'listening' line) is lost; the service is not. pino stops
// writing to a stream once it has seen EPIPE (lib/logger.ts).
export function survivePipeReadersGone(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
}
