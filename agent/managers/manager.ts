// What a datastore manager offers the agent. Lifecycle is required; every
// other capability is optional, and a missing one answers UNIMPLEMENTED
// naming it (`unimplemented` in agent/errors.ts, raised by the services).
import type { Logger } from '../../lib/logger.js';
import type { ProcessRunner } from '../../lib/process-runner.js';
import type { CompiledAgentConfig, DatastoreDefaults } from '../config.js';
import type { Layout } from '../layout.js';
import type { ChildSpec } from '../supervisor.js';
import type { Database, User, Page } from '../../proto/gen/coffer/agent/v1/common.js';
import type { Parameter, ParameterChange } from '../../proto/gen/coffer/agent/v1/configuration.js';
import type { BackupMetadata } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { BackupRequest, BackupSource } from '../../strategies/backup/source.js';
import type { Readable } from 'node:stream';

export type { BackupRequest, BackupSource };

export interface ManagerContext {
  readonly config: CompiledAgentConfig;
  readonly layout: Layout;
  readonly runner: ProcessRunner;
  readonly log: Logger;
}

/** What Prepare asks for, already decoded from the request. */
export interface PrepareInput {
  readonly rootPassword: string;
  readonly databases: readonly Database[];
  readonly users: readonly User[];
  readonly overrides: Readonly<Record<string, string>>;
}

export interface DatastoreManager {
  readonly name: string;
  readonly version: string;
  readonly accounts?: AccountsCapability;
  readonly configuration?: ConfigurationCapability;
  readonly backup?: BackupCapability;

  /** Throws INVALID_ARGUMENT for anything in the request that would fail later. */
  validatePrepare(input: PrepareInput): void;
  /** Renders the datastore's config file with the given overrides. */
  writeConfig(overrides: Readonly<Record<string, string>>): Promise<void>;
  /** Creates the data directory from nothing (wiping a failed earlier attempt). */
  initDataDir(signal: AbortSignal): Promise<void>;
  /** How the supervisor starts the datastore. */
  childSpec(): ChildSpec;
  /** True once the datastore answers. Never throws. */
  probe(): Promise<boolean>;
  /**
   * First start (fresh = true): the agent's own admin account and removal of
   * insecure defaults. After a restore (fresh = false): only (re)create the
   * agent's account, since the restored accounts are the backup's.
   */
  secure(signal: AbortSignal, fresh?: boolean): Promise<void>;
  /** Opens the agent's admin connection to a running, prepared datastore. */
  connect(): Promise<void>;
  /** Closes admin connections (before a stop). */
  disconnect(): Promise<void>;
  /** The version the running server reports. */
  serverVersion(): Promise<string>;
}

export interface AccountsCapability {
  listDatabases(page: Page): Promise<{ databases: Database[]; nextMarker: string }>;
  createDatabases(databases: readonly Database[]): Promise<void>;
  deleteDatabase(name: string): Promise<void>;
  listUsers(page: Page): Promise<{ users: User[]; nextMarker: string }>;
  getUser(name: string, host: string): Promise<User>;
  createUsers(users: readonly User[]): Promise<void>;
  deleteUser(name: string, host: string): Promise<void>;
  updateUserAttributes(name: string, host: string, change: { newName: string; newHost: string; newPassword: string }): Promise<void>;
  changePasswords(users: readonly User[]): Promise<void>;
  grantAccess(name: string, host: string, databases: readonly string[]): Promise<void>;
  revokeAccess(name: string, host: string, database: string): Promise<void>;
  listAccess(name: string, host: string): Promise<Database[]>;
  enableRoot(password: string): Promise<{ user: User; password: string }>;
  disableRoot(): Promise<void>;
  isRootEnabled(): Promise<boolean>;
  /** Validation only, for Prepare: throws INVALID_ARGUMENT. */
  validateDatabase(db: Database): void;
  validateUser(user: User): void;
}

export interface ConfigurationCapability {
  /** Validates overrides against the version's rules; throws INVALID_ARGUMENT naming the first bad one. */
  validate(overrides: Readonly<Record<string, string>>): void;
  current(): Promise<Record<string, string>>;
  overrides(): Record<string, string>;
  update(overrides: Readonly<Record<string, string>>, replace: boolean): Promise<{ changes: ParameterChange[]; restartRequired: boolean }>;
  reset(): Promise<{ changes: ParameterChange[]; restartRequired: boolean }>;
  parameters(): Parameter[];
}

/** A datastore the registry knows: its defaults and how to build its manager. */
export interface ManagerFactory extends DatastoreDefaults {
  create(ctx: ManagerContext): DatastoreManager;
}

/**
 * Backups of one datastore. The agent wraps the source in the pipeline
 * (compression, encryption, checksum, storage); the capability only knows
 * its tool's raw format.
 */
export interface BackupCapability {
  readonly defaultStrategy: string;
  readonly strategies: readonly string[];
  /**
   * Strategies whose restore replays into the RUNNING datastore (logical
   * dumps through the client). The others restore into a stopped datastore
   * whose data directory the agent has set aside.
   */
  readonly requiresRunning?: Readonly<Record<string, boolean>>;
  /** The checks restore() makes first, run by the agent before it stops anything. */
  validateRestore?(chain: readonly BackupMetadata[]): void;
  /** Starts the tool against the running datastore. Throws INVALID_ARGUMENT for an unknown strategy or an impossible request. */
  source(req: BackupRequest): Promise<BackupSource>;
  /**
   * Restores a chain, parent first, into a stopped datastore whose data
   * directory the agent has emptied. `open(i)` yields the raw (decrypted,
   * decompressed, verified) bytes of chain element i. After this resolves,
   * the agent starts the datastore.
   */
  restore(chain: readonly BackupMetadata[], open: (index: number) => Promise<Readable>, signal: AbortSignal): Promise<void>;
}
