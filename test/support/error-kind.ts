// What t.rejects and t.throws match for a failure of one kind: a CofferError
// (an AgentError is one) whatever its message.
import type { ErrorKind } from '../../lib/coded-error.js';

export const ofKind = (kind: ErrorKind): { name: RegExp; kind: ErrorKind } => ({ name: /^(Coffer|Agent)Error$/, kind });
