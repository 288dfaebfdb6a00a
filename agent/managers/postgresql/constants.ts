// Names that belong to the server or to the agent. They are never listed,
// created, changed or dropped through the accounts API.

/**
 * The agent's own role. initdb makes it the bootstrap superuser (-U), so no
 * "postgres" role exists at all and the agent's role cannot be dropped by
 * anyone. It logs in only over the unix socket by peer authentication (see
 * conf.ts for why peer and not a stored password).
 */
export const ADMIN_ROLE = 'coffer_admin';

/**
 * The replication role, one per deployment (docs/replication.md): streams
 * WAL to replicas and is pg_rewind's source account. Only over TLS (conf.ts).
 */
export const REPLICATION_ROLE = 'coffer_replication';

/** The tenant's superuser, managed by EnableRoot / DisableRoot only. */
export const ROOT_ROLE = 'root';

/** The pg_ident.conf map that admits the agent's OS user as ADMIN_ROLE. */
export const ADMIN_IDENT_MAP = 'coffer_admin';

/** The OS user the agent runs as (it must be root to run postgres as postgres). */
export const AGENT_OS_USER = 'root';

export const RESERVED_DATABASES: readonly string[] = ['postgres', 'template0', 'template1'];

/**
 * Roles reserved by name (compared case-insensitively). Besides ours and the
 * conventional "postgres", PostgreSQL itself refuses "public" and the
 * role-specification keywords; "pg_" prefixed roles are reserved as a prefix.
 */
export const RESERVED_ROLES: readonly string[] = [
  'postgres',
  ADMIN_ROLE,
  REPLICATION_ROLE,
  ROOT_ROLE,
  'public',
  'none',
  'current_user',
  'current_role',
  'session_user',
];

export const RESERVED_ROLE_PREFIX = 'pg_';
