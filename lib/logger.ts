import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

// Every field name that may carry a secret, wherever it sits in a logged
// object. pino's redaction needs explicit paths; `*.x` covers one level of
// nesting, which is how request objects are logged (`{ req: {...} }`).
const SECRET_KEYS = [
  'password',
  'newPassword',
  'rootPassword',
  'secret',
  'secrets',
  'key',
  'wrappingKey',
  'wrappedKey',
  'token',
  'privateKey',
  'replicationPassword',
];

export const REDACT_PATHS: readonly string[] = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  'users[*].password',
  '*.users[*].password',
  'env',
  '*.env',
];

export interface LoggerOptions {
  level?: string;
  name?: string;
  destination?: DestinationStream;
}

/** JSON logs to stdout (or the given destination) with secrets redacted. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'coffer',
      level: opts.level ?? 'info',
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}
// Standard output is written synchronously (pino's own default). Written
// asynchronously, a record still pending when the process exits is flushed
// by an exit hook, and sonic-boom 4.2's flushSync retries a write that failed
// with EPIPE forever: a daemon whose stdout reader had gone (`| head`, a
// closed terminal) never exited on SIGTERM. Synchronously, the first failed
// write disables the stream (pino drops logs after EPIPE) and nothing is left
// for the exit. Log files (the local driver's agents) stay asynchronous.
