// The default catalog: datastores, their versions and flavors. Inserted when
// missing, never overwriting what an operator changed.
import type { Db } from './database.js';

interface VersionSeed {
  datastore: string;
  name: string;
  manager: string;
  managerVersion: string;
  /** An inactive version is listed but refused at create. */
  active: boolean;
}

export const DEFAULT_VERSIONS: readonly VersionSeed[] = [
  { datastore: 'mariadb', name: '10.11', manager: 'mariadb', managerVersion: '10.11', active: true },
  // MySQL 8.0 runs on MariaDB on this platform (the agent's mysql manager).
  { datastore: 'mysql', name: '8.0', manager: 'mysql', managerVersion: '8.0', active: true },
  { datastore: 'postgresql', name: '15', manager: 'postgresql', managerVersion: '15', active: true },
  { datastore: 'redis', name: '7.0', manager: 'redis', managerVersion: '7.0', active: true },
];

export const DEFAULT_FLAVORS = [
  { id: 'small', name: 'small', vcpus: 1, ramMb: 1024 },
  { id: 'medium', name: 'medium', vcpus: 2, ramMb: 4096 },
  { id: 'large', name: 'large', vcpus: 4, ramMb: 8192 },
] as const;

export function seedCatalog(db: Db): void {
  const ds = db.prepare('INSERT OR IGNORE INTO datastores (name, default_version) VALUES (?, ?)');
  const ver = db.prepare(
    'INSERT OR IGNORE INTO datastore_versions (datastore, name, manager, manager_version, active) VALUES (?, ?, ?, ?, ?)',
  );
  const fl = db.prepare('INSERT OR IGNORE INTO flavors (id, name, vcpus, ram_mb) VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    for (const v of DEFAULT_VERSIONS) {
      ds.run(v.datastore, v.name);
      ver.run(v.datastore, v.name, v.manager, v.managerVersion, v.active ? 1 : 0);
    }
    for (const f of DEFAULT_FLAVORS) fl.run(f.id, f.name, f.vcpus, f.ramMb);
  })();
}
