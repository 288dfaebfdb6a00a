// Generated passwords: the agent admin's secret and root's when none is given.
import { randomBytes } from 'node:crypto';

export function generatePassword(): string {
  // 24 bytes of randomness, base64url: 32 printable characters, no spaces.
  return randomBytes(24).toString('base64url');
}
