// SCRAM-SHA-256 password verifiers, computed in the agent (as psql's
// \password and libpq's PQencryptPasswordConn do). CREATE/ALTER ROLE cannot
// take a bind parameter, so the password would otherwise travel inside the
// statement text, and PostgreSQL writes the text of a failed statement to its
// log. Sending the verifier instead means the plaintext never reaches the
// server, its log, or pg_stat_activity. The server stores a verifier given in
// this form as is. https://www.postgresql.org/docs/15/auth-password.html
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

// PostgreSQL's default (scram_iterations appears only in 16).
const ITERATIONS = 4096;

/**
 * The verifier for a password. Only printable ASCII reaches here (names.ts),
 * which SASLprep leaves unchanged, so no normalisation is needed.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = ITERATIONS): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

export function generatePassword(): string {
  // 24 bytes of randomness, base64url: 32 printable characters.
  return randomBytes(24).toString('base64url');
}
