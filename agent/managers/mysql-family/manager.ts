// The MySQL-family manager: lifecycle of mariadbd (or mysqld) plus the
// accounts and configuration capabilities. mariadb/ and mysql/ only wire a
// flavor into this.
import { adminConnection } from '../admin-connection.js';
import { mkdirSync, chownSync, chmodSync, writeFileSync, readFileSync, existsSync, rmSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { DatastoreManager, ManagerContext, PrepareInput } from '../manager.js';
import { OverridesStore } from '../../overrides-store.js';
import { lookupOsUser, type OsUser } from '../../../lib/os-user.js';
import { requireProgram } from '../../../lib/which.js';
import type { ChildSpec } from '../../supervisor.js';
import { ADMIN_USER, type MysqlFlavor } from './flavor.js';
import { MysqlAccounts, generatePassword } from './accounts.js';
import { mysqlConsole } from './console.js';
import { mysqlApplier } from './configuration.js';
import { Configuration } from '../configuration/capability.js';
import { loadRules } from '../../../strategies/configuration/rules.js';
import { rulesFile } from '../../../strategies/configuration/tables.js';
import { prepareRules, validatePrepare } from '../prepare-validation.js';
import { createMysqlBackup } from './backup/capability.js';
import { installServerTls } from '../server-tls.js';
import { renderMyCnf, socketPath } from './my-cnf.js';
import { errorLogFile, mysqlLogs } from './logs.js';
import { SqlClient, account, escape } from './sql-client.js';
import { checkPassword, normalizeHost } from './names.js';
import { createMysqlReplication } from './replication/capability.js';
import { isMarkedReadOnly, markReadOnly } from './replication/read-only.js';
import { serverIdFor } from './server-id.js';
import { nativePasswordHash } from './password-hash.js';
import { createGalera } from './galera/capability.js';
import { createMysqlArchive } from './archive/capability.js';
import { galeraSettings } from './galera/settings.js';
import { sstInProgressSince } from './galera/sst-progress.js';

export function createMysqlFamilyManager(flavor: MysqlFlavor, ctx: ManagerContext): DatastoreManager {
  const { layout, runner, config, log } = ctx;
  const cnfFile = path.join(layout.etcDir, 'my.cnf');
  const socket = socketPath(layout.runDir);
  const secretFile = path.join(layout.agentDir, 'admin.secret');
  const rules = loadRules(rulesFile(flavor.name, config.datastoreVersion));
  const store = new OverridesStore(path.join(layout.agentDir, 'overrides.json'));
  const sql = new SqlClient(socket, ADMIN_USER, () => readFileSync(secretFile, 'utf8').trim());
  let osUser: OsUser | null = null;
  const mysqlUser = (): OsUser => (osUser ??= lookupOsUser('mysql'));

  const writeConfig = async (overrides: Readonly<Record<string, string>>): Promise<void> => {
    ensureDirs();
    const plan = galera.plan();
    const tls = installServerTls(layout.etcDir, config.datastoreTls, mysqlUser());
    const text = renderMyCnf({
      dataDir: layout.dataDir, runDir: layout.runDir, logDir: layout.logDir, tmpDir: path.join(layout.baseDir, 'tmp'), port: config.datastorePort, bindAddress: config.datastoreBind, overrides, tls,
      serverId: serverIdFor(config.instanceId),
      readOnly: isMarkedReadOnly(layout.agentDir),
      cluster: plan ? galeraSettings({ plan, sstAuthFile: galera.sstAuthFile }) : undefined,
    });
    const tmp = `${cnfFile}.tmp`;
    writeFileSync(tmp, text, { mode: 0o644 });
    renameSync(tmp, cnfFile);
  };

  const galera = createGalera({ layout, runner, log, cnfFile, socket, mysqlUser, rerenderConfig: () => writeConfig(store.get()) });
  // Client threads; the server's own (event scheduler, InnoDB purge, ...) show as Daemon.
  const admin = adminConnection(sql, 'SELECT VERSION() AS v', "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND <> 'Daemon'");

  // A Galera member's grant tables are its donor's after a full state
  // transfer (SST), whichever start brought one (install, a restart by the
  // supervisor or at boot after its data was lost or the donors' gcache no
  // longer held what it lacked, RecoverCluster): the agent's account then
  // carries the donor's password. Checked as the OS root at every connect,
  // re-made on this node only (secure sets wsrep_on = OFF for it).
  const ensureOwnAccount = async (): Promise<void> => {
    if (!galera.plan() || !existsSync(secretFile)) return;
    const want = nativePasswordHash(readFileSync(secretFile, 'utf8').trim());
    let have: string;
    try {
      // wsrep_on off: a node not (yet) in a primary component refuses reads otherwise.
      have = (await galera.rootQuery(`SET SESSION wsrep_on = OFF;\nSELECT Password FROM mysql.user WHERE User = ${escape(ADMIN_USER)} AND Host = 'localhost';`)).trim();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not check the agent\'s account on this cluster member');
      return;
    }
    if (have.toUpperCase() === want) return;
    log.warn({ user: ADMIN_USER }, 'the agent\'s account on this node is not its own (a full state transfer brought the donor\'s accounts): re-making it on this node only');
    await manager.secure(AbortSignal.timeout(120_000), false);
  };
  const accounts = new MysqlAccounts(sql, flavor);
  const configuration = new Configuration({ rules, store, applier: mysqlApplier(sql, rules, writeConfig), log });
  const replication = createMysqlReplication({
    sql, log, config, layout,
    rerenderConfig: () => writeConfig(store.get()),
    // Without mariadb-backup (the mysql flavor's would be xtrabackup, not
    // packaged here) backups are logical, always full.
    fullSnapshotsOnly: flavor.backupTool !== 'mariadb-backup',
  });

  function ensureDirs(): void {
    const u = mysqlUser();
    // The base dir must be traversable by the datastore's user.
    mkdirSync(layout.baseDir, { recursive: true });
    chmodSync(layout.baseDir, 0o755);
    mkdirSync(layout.agentDir, { recursive: true, mode: 0o700 });
    chmodSync(layout.agentDir, 0o700);
    mkdirSync(layout.etcDir, { recursive: true, mode: 0o755 });
    for (const [dir, mode] of [[layout.dataDir, 0o750], [layout.runDir, 0o755], [layout.logDir, 0o750], [path.join(layout.baseDir, 'tmp'), 0o750]] as const) {
      mkdirSync(dir, { recursive: true, mode });
      chownSync(dir, u.uid, u.gid);
      chmodSync(dir, mode);
    }
  }

  const manager: DatastoreManager = {
    name: flavor.name,
    version: config.datastoreVersion,
    accounts,
    configuration,
    replication,
    // Galera is MariaDB's (Debian's galera-4 is built for it).
    cluster: flavor.name === 'mariadb' ? galera : undefined,
    logs: mysqlLogs(layout.logDir),
    console: mysqlConsole({ flavor, port: config.datastorePort, bindAddress: config.datastoreBind }),
    backup: createMysqlBackup({ flavor, layout, runner, log, sql, socket, cnfFile, secretFile, mysqlUser }),
    // Binlog archiving and restore to a point (docs/pitr.md, MariaDB): run
    // against MariaDB only; Oracle MySQL's mysqlbinlog and binlog format differ.
    archive: flavor.name === 'mariadb' ? createMysqlArchive({ sql, layout, runner, log: log.child({ component: 'binlog-archive' }), socket, mysqlUser }) : undefined,

    // Accounts are told apart by host: alice@% and alice@localhost are two.
    validatePrepare: (input: PrepareInput) => validatePrepare(input, prepareRules(checkPassword, accounts, configuration, (u) => `${u.name}@${normalizeHost(u.host)}`)),

    writeConfig: (overrides) => configuration.persist(overrides),

    async initDataDir(signal: AbortSignal): Promise<void> {
      await manager.emptyDataDir!();
      const installDb = requireProgram('mariadb-install-db', 'mariadb-install-db', 'mysql_install_db');
      await runner.run(
        [installDb, `--defaults-file=${cnfFile}`, '--user=mysql', '--skip-test-db', '--auth-root-authentication-method=socket'],
        { signal, timeoutMs: 300_000 },
      );
    },

    // Prepare from a physical backup: the restored grant tables hold the
    // OS root's unix_socket account that secure(fresh = false) re-keys the
    // agent's account through, so no system tables need installing first.
    async emptyDataDir(): Promise<void> {
      ensureDirs();
      // A new instance takes writes: a read-only fence left by a failed
      // earlier Prepare as a replica goes with the data it fenced.
      if (isMarkedReadOnly(layout.agentDir)) {
        markReadOnly(layout.agentDir, false);
        await writeConfig(store.get());
      }
      // A failed earlier Prepare may have left files: start from nothing.
      for (const entry of readdirSync(layout.dataDir)) rmSync(path.join(layout.dataDir, entry), { recursive: true, force: true });
    },

    childSpec(): ChildSpec {
      const server = requireProgram('the MariaDB server', 'mariadbd', 'mysqld');
      const u = mysqlUser();
      // --wsrep-new-cluster for the one start that creates (or recreates,
      // after a full outage) the cluster: the flag is dropped once the node
      // serves, so a later restart by the supervisor joins instead.
      const bootstrap = galera.plan() && galera.bootstrapPending() ? ['--wsrep-new-cluster'] : [];
      return {
        argv: [server, `--defaults-file=${cnfFile}`, ...bootstrap], uid: u.uid, gid: u.gid, marker: cnfFile, outputFile: errorLogFile(layout.logDir),
        // A joiner opens its socket only once its SST is in, which takes as
        // long as the data: the SST script (wsrep_sst_mariabackup) touches
        // sst_in_progress when it starts receiving and removes it when done.
        // Its own timeouts end a stalled transfer, and the server with it.
        stillStarting: galera.plan() ? (startedAtMs) => sstInProgressSince(layout.dataDir, startedAtMs) : undefined,
      };
    },

    async probe(): Promise<boolean> {
      if (!existsSync(socket)) return false;
      const admin = requireProgram('mariadb-admin', 'mariadb-admin', 'mysqladmin');
      try {
        // As the OS root over the socket (unix_socket auth): works before the
        // agent's own account exists. "ping" succeeds once the server answers.
        await runner.run([admin, '--no-defaults', `--socket=${socket}`, '--connect-timeout=2', 'ping'], { timeoutMs: 5000 });
        return true;
      } catch {
        return false;
      }
    },

    async secure(signal: AbortSignal, fresh = true): Promise<void> {
      const secret = generatePassword();
      writeFileSync(secretFile, secret + '\n', { mode: 0o600 });
      const client = requireProgram('the mariadb client', 'mariadb', 'mysql');
      // The secret travels on stdin, never argv. The agent's account is this
      // instance's own: kept out of the binary log, so a replica (whose
      // account is re-made after its restore) holds no transaction its
      // source never had, and a source sends no agent password to replicas.
      const statements = [
        // A cluster member's account is its own too: wsrep_on off keeps the
        // statement off the cluster (sql_log_bin does not).
        ...(galera.plan() ? ['SET SESSION wsrep_on = OFF;'] : []),
        'SET SESSION sql_log_bin = 0;',
        `CREATE OR REPLACE USER ${account(ADMIN_USER, 'localhost')} IDENTIFIED WITH mysql_native_password AS ${escape(nativePasswordHash(secret))};`,
        `GRANT ALL PRIVILEGES ON *.* TO ${account(ADMIN_USER, 'localhost')} WITH GRANT OPTION;`,
      ].join('\n');
      await runner.run([client, '--no-defaults', `--socket=${socket}`, '--user=root', '--batch'], { input: statements, signal, timeoutMs: 60_000 });
      await sql.close();
      sql.open();
      if (!fresh) return;
      // Anonymous accounts, remote root and the test database: what
      // mysql_secure_installation removes.
      await sql.unlogged(async (q) => {
        const insecure = await q(`SELECT User AS u, Host AS h FROM mysql.user WHERE User = '' OR (User = 'root' AND Host <> 'localhost')`);
        for (const r of insecure) await q(`DROP USER ${account(String(r.u), String(r.h))}`);
        await q('DROP DATABASE IF EXISTS test');
      });
      log.info({ user: ADMIN_USER }, 'datastore secured');
    },

    async connect(): Promise<void> {
      await ensureOwnAccount();
      await admin.connect();
    },
    disconnect: admin.disconnect,
    serverVersion: admin.serverVersion,
    connections: admin.connections,
  };
  return manager;
}

