// Registers every agent service on one gRPC server. Groups not built yet
// answer UNIMPLEMENTED naming their capability.
import type { Logger } from '../lib/logger.js';
import { startGrpcServer, type CofferServer } from '../lib/grpc-server.js';
import path from 'node:path';
import type { Backups } from './backup/backups.js';
import { addBackupService } from './services/backup-service.js';
import type { Agent } from './agent.js';
import { addLifecycleService } from './services/lifecycle-service.js';
import { addAccountService } from './services/accounts-service.js';
import { addConfigurationService } from './services/configuration-service.js';
import { addReplicationService } from './services/replication-service.js';
import { addClusterService } from './services/cluster-service.js';
import { addLogService } from './services/log-service.js';
import { addConsoleService } from './services/console-service.js';
import { addArchiveService } from './services/archive-service.js';
import type { Archiving } from './archive/archiving.js';

export async function startAgentServer(agent: Agent, backups: Backups, log: Logger, archiving?: Archiving): Promise<CofferServer> {
  const { config } = agent;
  const ds = agent.manager.name;
  return startGrpcServer({
    host: config.listenHost,
    port: config.listenPort,
    tls: config.tls,
    register: (server) => {
      addLifecycleService(server, agent, backups, log, archiving);
      addArchiveService(server, archiving, ds, log);
      addAccountService(server, agent, log);
      addConfigurationService(server, agent, log);
      addBackupService(server, agent, backups, log, path.join(agent.layout.agentDir, 'uploads'));
      addReplicationService(server, agent, backups, log);
      addClusterService(server, agent, log);
      addLogService(server, agent, log);
      addConsoleService(server, agent, log);
    },
  });
}
