// Storage failures as agent errors, so the gRPC layer maps them to one status
// each (UNAVAILABLE for a failing store, INVALID_ARGUMENT for a bad key,
// DATA_LOSS for a checksum mismatch) without parsing messages.
// Messages name the store, the operation and the object; they never carry
// credentials (auth keys, tokens, secret keys): callers build them only from
// method, path, status and the server's error text.
import { AgentError } from '../../agent/errors.js';

export const storageFailed = (message: string, cause?: unknown): AgentError =>
  new AgentError('AGENT_ERR_STORAGE', message, cause === undefined ? undefined : { cause });

export const badLocation = (message: string): AgentError => new AgentError('AGENT_ERR_INVALID_ARGUMENT', message);

export const objectMissing = (message: string): AgentError => new AgentError('AGENT_ERR_NOT_FOUND', message);

export const integrityFailed = (message: string): AgentError => new AgentError('AGENT_ERR_INTEGRITY', message);

export const cancelled = (message: string): AgentError => new AgentError('AGENT_ERR_CANCELLED', message);

export const isAgentError = (err: unknown): err is AgentError => err instanceof AgentError;

/** The message of anything thrown, for composing "while X: <why>" messages. */
export function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // fetch says only "fetch failed"; the socket error is in its cause.
  const cause = !(err instanceof AgentError) && err.cause instanceof Error ? ` (${err.cause.message})` : '';
  return err.message + cause;
}
