// Where Debian's PostgreSQL 15 programs are (the version the agent runs).
export const PG_BIN = '/usr/lib/postgresql/15/bin';
