// Passwords out of a log line before it leaves the agent (TailLog and
// PublishLog both read through here). A datastore's statement log holds the
// statements the agent ran to set a password: MariaDB's general log the
// CREATE USER ... IDENTIFIED BY '...', PostgreSQL's statement log the
// CREATE ROLE ... PASSWORD '...' (a SCRAM verifier, still a secret worth
// guarding), a Redis MONITOR-style line the ACL SETUSER ... >pass. Whoever
// ran such a statement, the literal is replaced: a log reader never needs it.

const REDACTED = '[redacted]';

// A SQL string literal, single or double quoted, with '' and \' escapes.
const LITERAL = String.raw`(?:'(?:[^'\\]|\\.|'')*'?|"(?:[^"\\]|\\.|"")*"?)`;

const SQL_PATTERNS: readonly RegExp[] = [
  // MariaDB/MySQL: IDENTIFIED BY 'x', IDENTIFIED BY PASSWORD 'hash',
  // IDENTIFIED WITH plugin BY 'x', IDENTIFIED VIA plugin USING 'x' / PASSWORD('x').
  new RegExp(String.raw`(\bIDENTIFIED\s+(?:WITH\s+\S+\s+)?BY\s+(?:PASSWORD\s+)?)${LITERAL}`, 'gi'),
  // IDENTIFIED WITH plugin AS 'hash' (what the agent itself sends: password-hash.ts).
  new RegExp(String.raw`(\bIDENTIFIED\s+(?:WITH|VIA)\s+\S+\s+AS\s+)${LITERAL}`, 'gi'),
  new RegExp(String.raw`(\bUSING\s+(?:PASSWORD\s*\(\s*)?)${LITERAL}`, 'gi'),
  // SET PASSWORD ... = PASSWORD('x') / = 'x', and any PASSWORD('x').
  new RegExp(String.raw`(\bPASSWORD\s*\(\s*)${LITERAL}`, 'gi'),
  new RegExp(String.raw`(\bSET\s+PASSWORD\b[^=]*=\s*)${LITERAL}`, 'gi'),
  // PostgreSQL: [ENCRYPTED] PASSWORD 'x' in CREATE/ALTER ROLE/USER.
  new RegExp(String.raw`(\bPASSWORD\s+)${LITERAL}`, 'gi'),
];

// Redis: ACL SETUSER name ... >pass <pass #hash !hash; AUTH [user] pass;
// CONFIG SET requirepass/masterauth x. Words may be "quoted" as in MONITOR.
const REDIS_WORD = String.raw`(?:"(?:[^"\\]|\\.)*"?|\S+)`;
const REDIS_ACL_SECRET = new RegExp(String.raw`(\s"?)[><#!](?:[^\s"\\]|\\.)+("?)`, 'g');
const REDIS_PATTERNS: readonly RegExp[] = [
  new RegExp(String.raw`(\b(?:requirepass|masterauth)"?\s+)${REDIS_WORD}`, 'gi'),
  new RegExp(String.raw`(\bAUTH"?\s+(?:${REDIS_WORD}\s+)?)${REDIS_WORD}`, 'gi'),
];

function redactAclSetuser(line: string): string {
  const m = /\bACL"?\s+"?SETUSER\b/i.exec(line);
  if (!m) return line;
  const head = line.slice(0, m.index + m[0].length);
  return head + line.slice(head.length).replace(REDIS_ACL_SECRET, `$1${REDACTED}$2`);
}

/** The line with every password literal replaced by [redacted]. */
export function redactLine(line: string): string {
  let out = line;
  for (const p of SQL_PATTERNS) out = out.replace(p, `$1'${REDACTED}'`);
  for (const p of REDIS_PATTERNS) out = out.replace(p, `$1${REDACTED}`);
  return redactAclSetuser(out);
}
