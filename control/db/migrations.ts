// Versioned schema migrations, applied in order at start. A migration is
// never edited once released: add a new one. `PRAGMA user_version` records
// how far a database has come.
export const MIGRATIONS: readonly string[] = [
  // 1: the first schema.
  `
  CREATE TABLE projects (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE tokens (
    -- sha256 of the token, hex: the token itself is shown once and never stored.
    hash TEXT PRIMARY KEY,
    project TEXT NOT NULL REFERENCES projects(name),
    admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE datastores (
    name TEXT PRIMARY KEY,
    default_version TEXT NOT NULL
  );
  CREATE TABLE datastore_versions (
    datastore TEXT NOT NULL REFERENCES datastores(name),
    name TEXT NOT NULL,
    -- The agent manager and its version that run this version.
    manager TEXT NOT NULL,
    manager_version TEXT NOT NULL,
    active INTEGER NOT NULL,
    PRIMARY KEY (datastore, name)
  );
  CREATE TABLE flavors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    vcpus INTEGER NOT NULL,
    ram_mb INTEGER NOT NULL
  );
  CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL REFERENCES projects(name),
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    datastore TEXT NOT NULL,
    datastore_version TEXT NOT NULL,
    flavor_id TEXT NOT NULL,
    volume_size_gb INTEGER NOT NULL,
    restored_from_backup_id TEXT,
    task_id TEXT,
    -- What the compute driver allocated and reports (JSON).
    compute TEXT,
    host TEXT NOT NULL DEFAULT '',
    port INTEGER NOT NULL DEFAULT 0,
    agent_port INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
  );
  CREATE INDEX instances_project ON instances(project, id);
  CREATE TABLE instance_faults (
    instance_id TEXT NOT NULL REFERENCES instances(id),
    step TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX instance_faults_instance ON instance_faults(instance_id, created_at);
  CREATE TABLE backups (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL REFERENCES projects(name),
    instance_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    parent_id TEXT,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    storage TEXT NOT NULL DEFAULT '',
    location TEXT NOT NULL DEFAULT '',
    checksum TEXT NOT NULL DEFAULT '',
    -- The agent's BackupArtifact (JSON): what a restore needs.
    artifact TEXT,
    fault_step TEXT,
    fault_message TEXT,
    task_id TEXT,
    datastore TEXT NOT NULL,
    datastore_version TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
  );
  CREATE INDEX backups_project ON backups(project, id);
  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    state TEXT NOT NULL,
    current_step TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    -- The request and what steps recorded for later steps (JSON).
    data TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deadline INTEGER NOT NULL
  );
  CREATE INDEX tasks_state ON tasks(state);
  CREATE TABLE task_steps (
    task_id TEXT NOT NULL REFERENCES tasks(id),
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    started_at INTEGER,
    finished_at INTEGER,
    PRIMARY KEY (task_id, idx)
  );
  CREATE TABLE task_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL,
    step TEXT NOT NULL,
    phase TEXT NOT NULL,
    message TEXT NOT NULL,
    percent REAL NOT NULL,
    bytes_done INTEGER NOT NULL DEFAULT 0,
    bytes_total INTEGER NOT NULL DEFAULT 0,
    at INTEGER NOT NULL
  );
  CREATE INDEX task_events_task ON task_events(task_id, seq);
  CREATE TABLE conductor_last_seen (
    instance_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- The agent's send time of the last accepted report (Trove's rule).
    sent_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (instance_id, kind)
  );
  CREATE TABLE instance_heartbeats (
    instance_id TEXT PRIMARY KEY,
    datastore_state INTEGER NOT NULL,
    reason TEXT NOT NULL,
    agent_version TEXT NOT NULL,
    received_at INTEGER NOT NULL
  );
  CREATE TABLE ca (
    name TEXT PRIMARY KEY,
    cert_pem TEXT NOT NULL,
    key_path TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  `,
  // 2: the agent's PostgreSQL 15 and Redis 7.0 managers landed. Databases
  // seeded before then hold them inactive, and Redis as "7", a version the
  // agent does not know (no instance can use an inactive version, so the
  // rename cannot strand one).
  `
  UPDATE datastore_versions SET active = 1 WHERE datastore = 'postgresql' AND name = '15' AND manager = 'postgresql' AND manager_version = '15';
  UPDATE datastore_versions SET name = '7.0', manager_version = '7.0', active = 1
    WHERE datastore = 'redis' AND name = '7' AND manager = 'redis' AND manager_version = '7' AND active = 0
      AND NOT EXISTS (SELECT 1 FROM datastore_versions WHERE datastore = 'redis' AND name = '7.0');
  UPDATE datastores SET default_version = '7.0' WHERE name = 'redis' AND default_version = '7'
    AND EXISTS (SELECT 1 FROM datastore_versions WHERE datastore = 'redis' AND name = '7.0');
  `,
  // 3: replication. A replica names its source; a source that was ejected
  // while it was gone is fenced until it has rejoined as a replica. The
  // agent's last replication report (JSON of ReplicationStatus) rides on
  // its heartbeat.
  `
  ALTER TABLE instances ADD COLUMN replica_of TEXT;
  ALTER TABLE instances ADD COLUMN auto_failover INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE instances ADD COLUMN fenced INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX instances_replica_of ON instances(replica_of) WHERE replica_of IS NOT NULL AND deleted_at IS NULL;
  ALTER TABLE instance_heartbeats ADD COLUMN replication TEXT NOT NULL DEFAULT '';
  `,
  // 4: clusters (issue 13, docs/clusters.md). A member is an instance row
  // whose cluster_id names its cluster; its cluster ports live in its
  // compute allocation (JSON), beside its client port. cluster_role is the
  // strategy's role of the member (redis-cluster: master or replica; '' for
  // galera).
  `
  CREATE TABLE clusters (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL REFERENCES projects(name),
    name TEXT NOT NULL,
    datastore TEXT NOT NULL,
    datastore_version TEXT NOT NULL,
    strategy TEXT NOT NULL,
    task TEXT NOT NULL DEFAULT 'NONE',
    task_id TEXT,
    fault_step TEXT,
    fault_message TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
  );
  CREATE INDEX clusters_project ON clusters(project, id);
  ALTER TABLE instances ADD COLUMN cluster_id TEXT;
  ALTER TABLE instances ADD COLUMN cluster_role TEXT NOT NULL DEFAULT '';
  CREATE INDEX instances_cluster ON instances(cluster_id) WHERE cluster_id IS NOT NULL;
  `,
  // 5: the cluster view rides on the heartbeat (docs/clusters.md, "What the
  // views show"): cluster is the agent's last ClusterNodeStatus (JSON,
  // '' when it sent none); cluster_role and cluster_slots are what it last
  // reported while its datastore ran, kept through reports sent while it
  // was down, so the views read a member's role with no agent call.
  `
  ALTER TABLE instance_heartbeats ADD COLUMN cluster TEXT NOT NULL DEFAULT '';
  ALTER TABLE instance_heartbeats ADD COLUMN cluster_role TEXT NOT NULL DEFAULT '';
  ALTER TABLE instance_heartbeats ADD COLUMN cluster_slots INTEGER NOT NULL DEFAULT 0;
  `,
  // 6: per-project backup wrapping keys (docs/backup-format.md "Keys"). The
  // key id of the wrapping key the instance was given; NULL for an instance
  // created before, which holds the deployment-wide key.
  `
  ALTER TABLE instances ADD COLUMN backup_key_id TEXT;
  `,
  // 7: configuration groups (docs/configuration-groups.md). values_json is
  // the group's normalised values (a JSON object of strings). An instance
  // names the group attached to it; restart_required is set when a value
  // applied to it waits for a restart (shown as RESTART_REQUIRED, cleared by
  // the restart task); config_state and config_message are how the last
  // apply went on it (applying, applied, restart_required, failed).
  `
  CREATE TABLE configurations (
    id TEXT PRIMARY KEY,
    project TEXT NOT NULL REFERENCES projects(name),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    datastore TEXT NOT NULL,
    datastore_version TEXT NOT NULL,
    values_json TEXT NOT NULL,
    task_id TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX configurations_project ON configurations(project, id);
  ALTER TABLE instances ADD COLUMN configuration_id TEXT;
  ALTER TABLE instances ADD COLUMN restart_required INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE instances ADD COLUMN config_state TEXT NOT NULL DEFAULT '';
  ALTER TABLE instances ADD COLUMN config_message TEXT NOT NULL DEFAULT '';
  CREATE INDEX instances_configuration ON instances(configuration_id) WHERE configuration_id IS NOT NULL;
  `,
];
