// The ACL rules a user may be given, as a strict grammar checked BEFORE
// anything reaches Redis, and the rules the agent itself adds.
//
// Why strict: every rule travels as one RESP argument, but ACL SAVE writes
// users to the ACL file as space-separated tokens that are split again on
// load. A rule that hid a space, a newline or a second modifier ("~x on",
// "~x >pw", "+get nopass") would become several rules at the next start.
// Redis refuses some of these itself; we refuse all of them, and every
// modifier that is not about keys, channels or commands (on/off, passwords,
// nopass, reset*, all*, selectors), with INVALID_ARGUMENT naming the rule.
import { createHash } from 'node:crypto';
import { invalid } from '../../errors.js';
import { show } from './names.js';

/** Keys and channels: glob characters and the usual key punctuation, no spaces, quotes or backslashes. */
const PATTERN = "[A-Za-z0-9_:.*?\\[\\]{}^!@#$%&()+=,;<>/|~`-]{1,256}";
const KEY_RULE = new RegExp(`^(?:~|%(?:R|W|RW)~)${PATTERN}$`);
const CHANNEL_RULE = new RegExp(`^&${PATTERN}$`);
/** Commands (module commands have dots) and subcommands. */
const COMMAND_RULE = /^[+-][a-z][a-z0-9_.-]{0,63}(?:\|[a-z][a-z0-9_.-]{0,63})?$/i;
const CATEGORY_RULE = /^[+-]@([a-z]{1,32})$/i;

export const MAX_RULES = 64;

/**
 * Appended to every user's rules: administrative commands (CONFIG, ACL
 * changes, SHUTDOWN, replication, MODULE, DEBUG...) are the agent's to run,
 * so a user given "+@all" cannot lock the agent out or reconfigure the
 * server behind its back.
 */
export const USER_SUFFIX: readonly string[] = ['-@admin'];

/**
 * What root (the `default` user) may not run: only the commands that would
 * take the instance out of the agent's hands. Everything else, admin
 * commands included (CONFIG GET, CLIENT, SLOWLOG, MONITOR...), root may.
 */
export const ROOT_DENIED: readonly string[] = [
  'acl|setuser', 'acl|deluser', 'acl|load', 'acl|save',
  'config|set', 'config|rewrite',
  'shutdown', 'replicaof', 'slaveof', 'failover', 'sync', 'psync', 'replconf',
  'debug', 'module',
];

export function rootRules(passwordHash: string): string[] {
  return ['reset', 'on', `#${passwordHash}`, '~*', '&*', '+@all', ...ROOT_DENIED.map((c) => `-${c}`)];
}

/** The rules of a disabled root: no password, no access, off. */
export const ROOT_OFF: readonly string[] = ['reset', 'off'];

/**
 * Redis stores SHA-256 hex digests of passwords; handing it the digest
 * (`#<hex>`) means the clear password never reaches the server, its command
 * log or its ACL file.
 */
export function passwordHash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}

/**
 * Flags and resets ACL LIST prints for a user the agent created, besides
 * the rules of the grammar above: what a restored user line may hold.
 */
const LISTED_FLAGS: ReadonlySet<string> = new Set(['on', 'off', 'sanitize-payload', 'skip-sanitize-payload', 'resetkeys', 'resetchannels', 'allkeys', 'allchannels', 'allcommands', 'nocommands']);
const DIGEST = /^#[0-9a-f]{64}$/;
const ANY_CATEGORY = /^[+-]@[a-z]{1,32}$/;

/**
 * True for a token of an ACL LIST line the agent restores from a backup:
 * the grammar above (any category: Redis refuses one it does not know), a
 * password digest, and the flags Redis prints. Never nopass, a clear
 * password (>, <), a selector, reset or resetpass.
 */
export function isTenantRule(rule: string): boolean {
  return LISTED_FLAGS.has(rule) || DIGEST.test(rule) || KEY_RULE.test(rule) || CHANNEL_RULE.test(rule) || COMMAND_RULE.test(rule) || ANY_CATEGORY.test(rule);
}

/** Throws INVALID_ARGUMENT for the first rule outside the grammar. Returns the rules as they will be sent. */
export function checkRules(rules: readonly string[], categories: readonly string[], who: string): string[] {
  if (rules.length > MAX_RULES) throw invalid(`user ${who} has ${rules.length} ACL rules; at most ${MAX_RULES} are allowed`);
  return rules.map((rule) => checkRule(rule, categories, who));
}

function checkRule(rule: string, categories: readonly string[], who: string): string {
  if (KEY_RULE.test(rule) || CHANNEL_RULE.test(rule)) return rule;
  if (COMMAND_RULE.test(rule)) return rule.toLowerCase();
  const cat = CATEGORY_RULE.exec(rule);
  if (cat) {
    const name = cat[1]!.toLowerCase();
    if (name !== 'all' && !categories.includes(name)) {
      throw invalid(`ACL rule ${show(rule)} of user ${who} names an unknown category; known: all, ${categories.join(', ')}`);
    }
    return rule.toLowerCase();
  }
  throw invalid(
    `ACL rule ${show(rule)} of user ${who} is not allowed: give one rule per entry, each a key pattern (~p, %R~p, %W~p, %RW~p), ` +
      'a channel pattern (&p), a command (+cmd, -cmd, +cmd|sub) or a category (+@cat, -@cat); ' +
      'passwords go in the password field, and on/off, nopass, reset*, all* and selectors are not accepted',
  );
}
