// Wiring of archiving and restore to a point for one agent: the archiver,
// the local socket the datastore reaches it on, and the replay a restore
// to a point runs. Built by main.ts when the datastore can archive.
import type { Server } from 'node:http';
import type { RestoreTarget } from '../../proto/gen/coffer/agent/v1/archive.js';
import type { BackupArtifact } from '../../proto/gen/coffer/agent/v1/backup.js';
import type { StorageLocation } from '../../proto/gen/coffer/agent/v1/common.js';
import type { Layout } from '../layout.js';
import { Archiver, type ArchiverDeps } from './archiver.js';
import { startLocalSocket } from './local-socket.js';
import { archiveSocketPath } from './local-socket-path.js';
import { planPointReplay, readRestoredPoint, type PointReplay } from './point-restore.js';
import type { ReplaySession } from './replay-session.js';

/** The archiver's dependencies (its agent dir comes from the layout), and what the socket and the driver need. */
export interface ArchivingDeps extends Omit<ArchiverDeps, 'agentDir'> {
  readonly datastore: string;
  readonly layout: Layout;
  /** The datastore's crash reason while it is down unexpectedly. */
  readonly crashed: () => string | undefined;
}

export class Archiving {
  readonly archiver: Archiver;
  #session: ReplaySession | undefined;
  #server: Server | undefined;
  #driver: { stop(): Promise<void> } | undefined;

  constructor(private readonly deps: ArchivingDeps) {
    this.archiver = new Archiver({ ...deps, agentDir: deps.layout.agentDir });
  }

  /** Opens the local socket; before the datastore first starts (its archive_command needs it). */
  async start(): Promise<void> {
    this.#server = await startLocalSocket({
      socket: archiveSocketPath(this.deps.layout),
      group: this.deps.capability.socketGroup(),
      archiver: this.archiver,
      replay: () => this.#session,
      log: this.deps.log,
    });
    // A datastore with no archive_command (MariaDB) hands its closed files over itself.
    this.#driver = this.deps.capability.drive?.((name) => this.archiver.handOver(name));
  }

  planReplay(target: RestoreTarget, chain: readonly BackupArtifact[], archive: StorageLocation | undefined, signal: AbortSignal): Promise<PointReplay> {
    return planPointReplay(
      {
        capability: this.deps.capability,
        datastore: this.deps.datastore,
        store: this.deps.store,
        wrappingKey: this.deps.wrappingKey,
        runner: this.deps.runner,
        log: this.deps.log,
        agentDir: this.deps.layout.agentDir,
        setSession: (s) => (this.#session = s),
        crashed: this.deps.crashed,
      },
      target,
      chain,
      archive,
      signal,
    );
  }

  restoredPoint() {
    return readRestoredPoint(this.deps.layout.agentDir);
  }

  async close(): Promise<void> {
    await this.#driver?.stop();
    this.archiver.close();
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
