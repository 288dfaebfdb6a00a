// A child in a process group of its own, inside this process's session.
//
// A stop has to reach everything a tool started, so every tool gets a
// process group of its own and a stop signals the group. Node's spawn makes
// a group only together with a new session (`detached: true` is setsid),
// and with the kernel's autogroup scheduling (sched_autogroup_enabled, on
// in Debian's kernels) every session is a scheduling group of its own: on a
// busy machine each of a backup's tools then competed as a separate group
// against everything else, 1.6x to 2.5x slower than the same pipeline in
// one session (docs/performance.md, issue 16). setpgid(0, 0) without
// setsid gives the group and keeps the session; Node has no call for it,
// so the child is started through a short perl program that makes its
// group and then execs the tool: the same pid, the tool's own exit status
// and signals, the same descriptors. perl is Debian's perl-base, an
// Essential package: on every Debian system, and in every image images/
// builds (debootstrap's minbase installs the Essential set).
//
// The argv reaches the tool as perl's arguments, never through a shell.
// Descriptor 3 is a status pipe: perl keeps a close-on-exec copy of it, so
// the pipe ends empty when the exec succeeded, or carries the failing
// step and errno when it did not (then the child "could not start", as
// when Node's spawn fails). Until then the group does not exist yet, which
// is why ChildHandle holds back signals for it until the pipe has ended.
//
// The program also gives up the controlling terminal, if the agent has one
// (run by hand from a terminal; never under systemd): a tool in a
// background group that opened /dev/tty to prompt would stop on SIGTTIN,
// where after setsid it had no terminal and failed.
import { constants } from 'node:os';
import { which } from './which.js';

/** The descriptor the status pipe is given as in the child. */
export const STATUS_FD = 3;

// perl -e, then `--`, a flag and the tool's argv as @ARGV. The flag says
// that PERL_BADLANG was added for perl alone (see inProcessGroup). Numbers
// are Linux's generic values (x86-64, arm64): O_RDWR|O_NONBLOCK|O_NOCTTY,
// TIOCNOTTY. $^F is 2, so the dup of descriptor 3 perl makes is
// close-on-exec.
const PROGRAM = [
  'delete $ENV{PERL_BADLANG} if shift(@ARGV);',
  'open(my $p, ">&=", 3) or die "status descriptor: $!\\n";',
  'open(my $s, ">&", $p) or die "status descriptor: $!\\n"; close($p);',
  'if (sysopen(my $t, "/dev/tty", 0x902)) { ioctl($t, 0x5422, 0); close($t) }',
  'setpgrp(0, 0) or do { syswrite($s, "setpgid " . ($! + 0)); exit 127 };',
  'exec { $ARGV[0] } @ARGV;',
  'syswrite($s, "exec " . ($! + 0)); exit 127;',
].join(' ');

/** The program that starts children in their own group: `perl` on PATH, else where Debian puts it. */
export function defaultGroupWrapper(): string {
  return which('perl') ?? '/usr/bin/perl';
}

/**
 * What to spawn instead of argv: the wrapper with the tool's argv as its
 * arguments, and the environment to give it (`env` merged over this
 * process's, as the spawn does). perl warns on stderr at start-up when
 * LANG or LC_ALL names a locale that is not installed, which a tool
 * ignores; PERL_BADLANG=0 silences that, and is removed again before the
 * exec unless it was there already, so the tool's environment is exactly
 * what it would have been.
 */
export function inProcessGroup(wrapper: string, argv: readonly string[], env: Readonly<Record<string, string>> | undefined): { file: string; args: string[]; env: Record<string, string> | undefined } {
  const added = (env?.PERL_BADLANG ?? process.env.PERL_BADLANG) === undefined;
  return { file: wrapper, args: ['-e', PROGRAM, '--', added ? '1' : '', ...argv], env: added ? { ...env, PERL_BADLANG: '0' } : env };
}

/** The message of a child that could not start because the wrapper itself is missing. */
export function missingWrapper(wrapper: string, cause: string): string {
  return `${wrapper}, which starts every tool in a process group of its own (lib/process-group.ts), cannot be run (${cause}): install perl (Debian's perl-base)`;
}

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/**
 * What the status pipe carried: undefined when the tool started, else the
 * reason it could not, worded as Node words a failed spawn ("spawn
 * mbstream ENOENT").
 */
export function startFailure(status: string, argv: readonly string[]): string | undefined {
  const text = status.trim();
  if (!text) return undefined;
  const m = /^(exec|setpgid) (\d+)$/.exec(text);
  if (!m) return `spawn ${argv[0]}: ${text}`;
  const code = ERRNO_NAMES.get(Number(m[2])) ?? `errno ${m[2]}`;
  return m[1] === 'exec' ? `spawn ${argv[0]} ${code}` : `setpgid for ${argv[0]} failed: ${code}`;
}
