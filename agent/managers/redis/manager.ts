// The Redis manager: lifecycle of redis-server (config, data dir, ACL file,
// supervision as the redis OS user, probe, secure) wired to the accounts,
// configuration and backup capabilities. index.ts registers it.
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lookupOsUser, type OsUser } from '../../../lib/os-user.js';
import { requireProgram } from '../../../lib/which.js';
import type { DatastoreManager, ManagerContext, PrepareInput } from '../manager.js';
import type { ChildSpec } from '../../supervisor.js';
import { OverridesStore } from '../../overrides-store.js';
import { AdminClient, pingOnce, type AdminClientOptions } from './admin-client.js';
import { initialAclFile } from './acl-file.js';
import { ROOT_OFF } from './acl-rules.js';
import { RedisAccounts } from './accounts.js';
import { RedisBackup } from './backup/capability.js';
import { RESTORED_USERS } from './backup/rdb-restore.js';
import { restoreTenantUsers } from './tenant-acl.js';
import { redisApplier } from './configuration.js';
import { Configuration } from '../configuration/capability.js';
import { prepareRules, validatePrepare } from '../prepare-validation.js';
import { ADMIN_USER, checkPassword } from './names.js';
import { redisPaths } from './paths.js';
import { redisConsole } from './console.js';
import { renderRedisConf, TEMPLATE_SETTINGS } from './redis-conf.js';
import { loadRedisRules } from './rules.js';
import { rulesFile } from '../../../strategies/configuration/tables.js';
import { installRedisTls } from './tls-files.js';
import { generatePassword } from './secret.js';
import { RedisReplication } from './replication/capability.js';
import { createRedisCluster } from './cluster/capability.js';
import { redisClusterSettings } from './cluster/settings.js';
import { ReplicationConf } from './replication/replication-conf.js';
import { redisLogFile, redisLogs } from './logs.js';

export function createRedisManager(ctx: ManagerContext): DatastoreManager {
  const { layout, runner, config, log } = ctx;
  const paths = redisPaths(layout);
  const rules = loadRedisRules(rulesFile('redis', config.datastoreVersion));
  const store = new OverridesStore(paths.overridesFile);
  let osUser: OsUser | null = null;
  const redisUser = (): OsUser => (osUser ??= lookupOsUser('redis'));
  const admin = (socket = paths.socket): AdminClientOptions => ({
    socket,
    user: ADMIN_USER,
    password: () => readFileSync(paths.secretFile, 'utf8').trim(),
    log,
  });
  const client = new AdminClient(admin());
  let cachedVersion = '';
  const replicationConf = new ReplicationConf(paths.replicationState, paths.replicationConf, () => redisUser());

  const writeConfigFile = async (overrides: Readonly<Record<string, string>>): Promise<void> => {
    ensureDirs();
    const tls = installRedisTls(layout.etcDir, config.datastoreTls, config.datastoreCa, redisUser(), config.datastoreTlsPeer);
    const plan = cluster.plan();
    const clusterLines = plan ? redisClusterSettings({ self: plan.self, dataDir: layout.dataDir, tls: cluster.tls }) : undefined;
    const text = renderRedisConf({ paths, dataDir: layout.dataDir, port: config.datastorePort, bindAddress: config.datastoreBind, tls, overrides, cluster: clusterLines });
    const tmp = `${paths.conf}.tmp`;
    // No secrets in it (accounts are in the ACL file): redis reads it, root writes it.
    writeFileSync(tmp, text, { mode: 0o644 });
    // redis.conf includes it: it must exist before the server reads redis.conf.
    replicationConf.ensure();
    renameSync(tmp, paths.conf);
  };

  function ensureDirs(): void {
    const u = redisUser();
    // The base dir must be traversable by the datastore's user.
    mkdirSync(layout.baseDir, { recursive: true });
    chmodSync(layout.baseDir, 0o755);
    mkdirSync(layout.agentDir, { recursive: true, mode: 0o700 });
    chmodSync(layout.agentDir, 0o700);
    mkdirSync(layout.etcDir, { recursive: true, mode: 0o755 });
    for (const [dir, mode] of [[layout.dataDir, 0o750], [layout.runDir, 0o755], [layout.logDir, 0o750], [paths.aclDir, 0o700]] as const) {
      mkdirSync(dir, { recursive: true, mode });
      chownSync(dir, u.uid, u.gid);
      chmodSync(dir, mode);
    }
  }

  const cluster = createRedisCluster({
    layout,
    log: log.child({ component: 'redis-cluster' }),
    client,
    aclFile: paths.aclFile,
    tls: config.datastoreTls ? (config.datastoreCa ? 'verified' : 'no-ca') : 'off',
    caFile: config.datastoreCa,
    setMasterAuth: (masterUser, masterAuth) => void replicationConf.update({ masterUser, masterAuth }),
    rerenderConfig: () => writeConfigFile(store.get()),
  });

  const accounts = new RedisAccounts(client, rules.aclCategories);
  const configuration = new Configuration({ rules, store, applier: redisApplier(client, rules, writeConfigFile), log });

  const serverArgv = (): string[] => [requireProgram('redis-server', 'redis-server'), paths.conf];

  const manager: DatastoreManager = {
    name: 'redis',
    version: config.datastoreVersion,
    accounts,
    configuration,
    logs: redisLogs(layout.logDir),
    console: redisConsole({ socket: paths.socket, redisUser }),
    backup: new RedisBackup({
      client,
      runner,
      log,
      dataDir: layout.dataDir,
      dumpFile: paths.dumpFile,
      redisUser,
      // The restore's private server serves no TCP port at all: nor the
      // TLS one redis.conf names when the instance serves TLS.
      serverArgv: () => [...serverArgv(), '--tls-port', '0'],
      admin,
      // At most LONGEST_SOCKET_NAME's 14 bytes: the room lib/base-dir.ts checks for.
      restoreSocket: path.join(layout.runDir, 'restore.sock'),
      // What is in force: the template and the overrides (the rendered file).
      appendOnly: () => ({ ...TEMPLATE_SETTINGS, ...store.get() }).appendonly === 'yes',
      serverVersion: () => manager.serverVersion(),
      workDir: layout.agentDir,
    }),

    replication: new RedisReplication({
      client,
      admin: () => admin(),
      conf: replicationConf,
      // A TLS-serving instance's source serves TLS too (one deployment):
      // following it needs the CA to verify it with.
      tls: config.datastoreTls ? (config.datastoreCa ? 'verified' : 'no-ca') : 'off',
      log: log.child({ component: 'redis-replication' }),
    }),

    cluster,

    // Redis has no databases to create: its accounts refuse any by name.
    validatePrepare: (input: PrepareInput) => validatePrepare(input, prepareRules(checkPassword, accounts, configuration)),

    writeConfig: (overrides) => configuration.persist(overrides),

    async initDataDir(): Promise<void> {
      ensureDirs();
      // A failed earlier Prepare may have left files: start from nothing.
      for (const entry of readdirSync(layout.dataDir)) rmSync(path.join(layout.dataDir, entry), { recursive: true, force: true });
      const secret = generatePassword();
      writeFileSync(paths.secretFile, secret + '\n', { mode: 0o600 });
      chmodSync(paths.secretFile, 0o600);
      // The server starts with exactly two users: the agent's, and default off.
      const u = redisUser();
      writeFileSync(paths.aclFile, initialAclFile(secret), { mode: 0o600 });
      chownSync(paths.aclFile, u.uid, u.gid);
      chmodSync(paths.aclFile, 0o600);
      // A new instance follows nobody and takes writes.
      replicationConf.update({ replicaOf: null, masterUser: '', masterAuth: '', fenced: false });
    },

    childSpec(): ChildSpec {
      const u = redisUser();
      return { argv: serverArgv(), uid: u.uid, gid: u.gid, cwd: layout.dataDir, marker: paths.conf, outputFile: redisLogFile(layout.logDir) };
    },

    probe(): Promise<boolean> {
      return pingOnce(admin());
    },

    async secure(_signal: AbortSignal, fresh = true): Promise<void> {
      await client.open();
      const who = String(await client.call('ACL', 'WHOAMI'));
      if (who !== ADMIN_USER) throw new Error(`the agent's connection is authenticated as ${who}, not ${ADMIN_USER}`);
      // After a restore (fresh = false) there is nothing to re-key: an RDB
      // holds no accounts, the ACL file (etc/) was not touched, and root
      // must stay as the instance had it. A backup that carried the tenant's
      // users left them beside the RDB: they replace the instance's.
      if (!fresh) return restoreTenantUsers(client, path.join(layout.dataDir, RESTORED_USERS), log);
      // Already so in the initial ACL file; stated again so that secure()
      // holds whatever file the server started with.
      await client.call('ACL', 'SETUSER', 'default', ...ROOT_OFF);
      await client.call('ACL', 'SAVE');
      log.info({ user: ADMIN_USER }, 'datastore secured');
    },

    async connect(): Promise<void> {
      await client.open();
      cachedVersion = await manager.serverVersion();
    },

    async disconnect(): Promise<void> {
      await client.close();
    },

    async connections(): Promise<number> {
      return Number((await client.info('clients')).connected_clients ?? 0);
    },

    async serverVersion(): Promise<string> {
      try {
        cachedVersion = (await client.info('server')).redis_version ?? cachedVersion;
      } catch {
        // Not running: the last version seen.
      }
      return cachedVersion;
    },
  };
  return manager;
}
