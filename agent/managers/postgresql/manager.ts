// The PostgreSQL manager: lifecycle of postgres (initdb, supervised child,
// probe, securing) plus the accounts, configuration, backup and replication
// capabilities.
import { adminConnection } from '../admin-connection.js';
import { existsSync, renameSync, writeFileSync, chownSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../../lib/repo-root.js';
import { lookupOsUser, type OsUser } from '../../../lib/os-user.js';
import type { DatastoreManager, ManagerContext, PrepareInput } from '../manager.js';
import { OverridesStore } from '../../overrides-store.js';
import type { ChildSpec } from '../../supervisor.js';
import { PgAccounts } from './accounts.js';
import { PgBackup } from './backup/capability.js';
import { confFile, hbaFile, identFile, renderPgHba, renderPgIdent, renderPostgresqlConf } from './conf.js';
import { pgApplier } from './configuration.js';
import { Configuration } from '../configuration/capability.js';
import { loadRules } from '../configuration/rules.js';
import { prepareRules, validatePrepare } from '../prepare-validation.js';
import { ADMIN_ROLE } from './constants.js';
import { emptyDir, ensureDirs, initdb } from './datadir.js';
import { checkPassword } from './names.js';
import { pgTool } from './pg-bin.js';
import { PgClient } from './pg-client.js';
import { secureCluster } from './secure.js';
import { installServerTls } from '../server-tls.js';
import { PgReplication } from './replication/capability.js';
import { ReplicationSettings } from './replication/settings.js';
import { PgArchive } from './archive/capability.js';
import { archiveCommand } from './archive/commands.js';
import { archiveSocketPath } from '../../archive/local-socket-path.js';
import { archiveTimeoutOf, archivingEnabled } from '../../archive/settings-store.js';

// Rules files are data in the source tree (rules/), also when running from
// dist/: resolve them from the installation root.
const RULES_DIR = path.join(repoRoot(), 'agent/managers/postgresql/rules');

function writeAtomic(file: string, text: string, mode: number, owner?: OsUser): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode });
  if (owner) chownSync(tmp, 0, owner.gid);
  renameSync(tmp, file);
}

export function createPostgresqlManager(ctx: ManagerContext): DatastoreManager {
  const { layout, runner, config, log } = ctx;
  const version = config.datastoreVersion;
  const conf = confFile(layout.etcDir);
  const rules = loadRules(path.join(RULES_DIR, `postgresql-${version}.json`));
  const store = new OverridesStore(path.join(layout.agentDir, 'overrides.json'));
  const sql = new PgClient({ socketDir: layout.runDir, port: config.datastorePort, user: ADMIN_ROLE, log });
  let osUser: OsUser | null = null;
  const pgUser = (): OsUser => (osUser ??= lookupOsUser('postgres'));
  const replicationSettings = new ReplicationSettings(layout, pgUser, config.datastoreCa);
  // pg_hba.conf in its fenced form while the instance is fenced (replication/fence.ts).
  const writeHba = (): void => writeAtomic(hbaFile(layout.etcDir), renderPgHba({ fenced: replicationSettings.get().fenced }), 0o640, pgUser());

  const writeConfig = async (overrides: Readonly<Record<string, string>>): Promise<void> => {
    ensureDirs(layout, pgUser());
    const tls = installServerTls(layout.etcDir, config.datastoreTls, pgUser());
    const text = renderPostgresqlConf({
      tls,
      dataDir: layout.dataDir,
      etcDir: layout.etcDir,
      runDir: layout.runDir,
      port: config.datastorePort,
      bindAddress: config.datastoreBind,
      overrides,
      archive: { enabled: archivingEnabled(layout.agentDir), command: archiveCommand(archiveSocketPath(layout)), timeoutSeconds: archiveTimeoutOf(layout.agentDir) },
    });
    writeAtomic(conf, text, 0o644);
    // The file conf's include names, so that it exists with this render.
    if (!existsSync(replicationSettings.confFile)) replicationSettings.render();
    // Readable by the server (group postgres), writable by root only.
    writeHba();
    writeAtomic(identFile(layout.etcDir), renderPgIdent(), 0o640, pgUser());
  };

  const accounts = new PgAccounts(sql);
  const configuration = new Configuration({ rules, store, applier: pgApplier(sql, writeConfig), log });
  const backup = new PgBackup({
    datastore: 'postgresql',
    version,
    layout,
    port: config.datastorePort,
    confFile: conf,
    runner,
    log,
    sql,
    pgUser,
    replication: replicationSettings,
  });
  const archive = new PgArchive({
    version,
    layout,
    runner,
    sql,
    pgUser,
    rewriteConfig: () => writeConfig(store.get()),
    running: () => existsSync(path.join(layout.runDir, `.s.PGSQL.${config.datastorePort}`)),
  });
  const replication = new PgReplication({ version, layout, runner, log, sql, pgUser, settings: replicationSettings, writeHba });

  const manager: DatastoreManager = {
    name: 'postgresql',
    version,
    accounts,
    configuration,
    backup,
    replication,
    archive,

    validatePrepare: (input: PrepareInput) => validatePrepare(input, prepareRules(checkPassword, accounts, configuration)),

    writeConfig: (overrides) => configuration.persist(overrides),

    async initDataDir(signal: AbortSignal): Promise<void> {
      ensureDirs(layout, pgUser());
      // A failed earlier Prepare may have left files: start from nothing,
      // replication settings included (a Prepare with replica_of sets them
      // again after this; a leftover source would make a restore a standby).
      emptyDir(layout.dataDir);
      replicationSettings.reset();
      writeHba();
      await initdb(runner, version, layout.dataDir, pgUser(), signal);
    },

    childSpec(): ChildSpec {
      const u = pgUser();
      return {
        argv: [pgTool(version, 'postgres'), `--config-file=${conf}`],
        uid: u.uid,
        gid: u.gid,
        cwd: layout.baseDir,
        marker: conf,
        // Fast shutdown: clients are disconnected, a shutdown checkpoint is written.
        stopSignal: 'SIGINT',
        stopScope: 'process',
      };
    },

    async probe(): Promise<boolean> {
      if (!existsSync(path.join(layout.runDir, `.s.PGSQL.${config.datastorePort}`))) return false;
      try {
        // pg_isready authenticates nobody: it answers once the server
        // accepts connections (not while it starts or recovers).
        await runner.run([pgTool(version, 'pg_isready'), '--host', layout.runDir, '--port', String(config.datastorePort), '--timeout=2', '--quiet'], {
          timeoutMs: 5000,
        });
        return true;
      } catch {
        return false;
      }
    },

    async secure(): Promise<void> {
      await sql.close();
      sql.open();
      // A standby restored from its source's snapshot: its catalog is the
      // source's (secured there) and it takes no write.
      const [r] = await sql.query('SELECT pg_is_in_recovery() AS standby');
      if (r?.standby === true) {
        log.info('standby: secured by its source');
        return;
      }
      await secureCluster((text, values) => sql.query(text, values));
      log.info({ role: ADMIN_ROLE }, 'datastore secured');
    },

    // Client backends only: not the checkpointer, WAL senders and the like.
    ...adminConnection(sql, 'SELECT version() AS v', "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'"),
  };
  return manager;
}
