// The redaction of log lines (agent/logs/redact.ts), on the lines the
// datastores write. The real servers' logs are in mariadb.test.ts and
// postgresql.test.ts; this covers the spellings one server cannot show.
import t from 'tap';
import { redactLine } from '../../../agent/logs/redact.js';

const CASES: [string, string][] = [
  ["\t5 Query\tCREATE USER 'a'@'%' IDENTIFIED BY 'pw1'", "\t5 Query\tCREATE USER 'a'@'%' IDENTIFIED BY '[redacted]'"],
  ["ALTER USER 'a'@'%' IDENTIFIED BY PASSWORD '*ABCDEF'", "ALTER USER 'a'@'%' IDENTIFIED BY PASSWORD '[redacted]'"],
  ["CREATE USER `a`@`%` IDENTIFIED WITH mysql_native_password AS '*0123'", "CREATE USER `a`@`%` IDENTIFIED WITH mysql_native_password AS '[redacted]'"],
  ["CREATE USER a IDENTIFIED VIA ed25519 USING PASSWORD('pw2')", "CREATE USER a IDENTIFIED VIA ed25519 USING PASSWORD('[redacted]')"],
  ["SET PASSWORD FOR 'a'@'%' = PASSWORD('it''s')", "SET PASSWORD FOR 'a'@'%' = PASSWORD('[redacted]')"],
  ["SET PASSWORD = 'pw3'", "SET PASSWORD = '[redacted]'"],
  ["LOG:  statement: CREATE ROLE b LOGIN PASSWORD 'p\\'w'", "LOG:  statement: CREATE ROLE b LOGIN PASSWORD '[redacted]'"],
  ["LOG:  statement: alter role b encrypted password 'SCRAM-SHA-256$4096:x'", "LOG:  statement: alter role b encrypted password '[redacted]'"],
  ['1700000000.1 [0 unix:/x] "ACL" "SETUSER" "u" "on" ">S3cret" "~*" "+@all"', '1700000000.1 [0 unix:/x] "ACL" "SETUSER" "u" "on" "[redacted]" "~*" "+@all"'],
  ['ACL SETUSER u on >S3cret #abcd ~cache:*', 'ACL SETUSER u on [redacted] [redacted] ~cache:*'],
  ['"AUTH" "u" "S3cret"', '"AUTH" "u" [redacted]'],
  ['"CONFIG" "SET" "requirepass" "S3cret"', '"CONFIG" "SET" "requirepass" [redacted]'],
  ['2026-12-02 LOG:  checkpoint starting: time', '2026-12-02 LOG:  checkpoint starting: time'],
  ["SELECT 'password' FROM t", "SELECT 'password' FROM t"],
];

for (const [line, want] of CASES) t.equal(redactLine(line), want, line);
t.notOk(redactLine("CREATE USER x IDENTIFIED BY 'never-ends").includes('never-ends'), 'an unterminated literal (a line cut short) is redacted to its end');
