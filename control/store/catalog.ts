// Datastores, versions and flavors as recorded (seeded by db/seed.ts).
import type { Db } from '../db/database.js';

export interface VersionRow {
  datastore: string;
  name: string;
  manager: string;
  manager_version: string;
  active: number;
}

export interface FlavorRow {
  id: string;
  name: string;
  vcpus: number;
  ram_mb: number;
}

export class CatalogStore {
  constructor(private readonly db: Db) {}

  datastores(): Array<{ name: string; default_version: string; versions: string[] }> {
    const rows = this.db.prepare('SELECT name, default_version FROM datastores ORDER BY name').all() as Array<{ name: string; default_version: string }>;
    return rows.map((r) => ({ ...r, versions: this.versions(r.name).map((v) => v.name) }));
  }

  defaultVersion(datastore: string): string | undefined {
    const r = this.db.prepare('SELECT default_version FROM datastores WHERE name = ?').get(datastore) as { default_version: string } | undefined;
    return r?.default_version;
  }

  versions(datastore: string): VersionRow[] {
    return this.db.prepare('SELECT * FROM datastore_versions WHERE datastore = ? ORDER BY name').all(datastore) as VersionRow[];
  }

  version(datastore: string, name: string): VersionRow | undefined {
    return this.db.prepare('SELECT * FROM datastore_versions WHERE datastore = ? AND name = ?').get(datastore, name) as VersionRow | undefined;
  }

  flavors(): FlavorRow[] {
    return this.db.prepare('SELECT * FROM flavors ORDER BY ram_mb, id').all() as FlavorRow[];
  }

  flavor(id: string): FlavorRow | undefined {
    return this.db.prepare('SELECT * FROM flavors WHERE id = ?').get(id) as FlavorRow | undefined;
  }
}
