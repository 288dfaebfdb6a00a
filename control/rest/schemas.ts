// JSON schemas of the request bodies, query strings and path parameters, as
// python-troveclient sends them. fastify validates with them (every failure
// becomes a badRequest naming the field, faults.ts) and /openapi.json is
// built from them (openapi.ts). Unknown fields are allowed where Trove's
// client sends fields Coffer has no use for (nics, availability_zone, ...).
const name = (max = 255) => ({ type: 'string', minLength: 1, maxLength: max });
const nullableString = (max = 255) => ({ type: ['string', 'null'], maxLength: max });
/** Trove takes a size as an integer or a string of digits. */
const size = { anyOf: [{ type: 'integer', minimum: 1, maximum: 16384 }, { type: 'string', pattern: '^[0-9]{1,5}$' }] };
const idOrName = { anyOf: [{ type: 'string', minLength: 1, maxLength: 255 }, { type: 'integer', minimum: 0 }] };

const databaseItem = {
  type: 'object',
  required: ['name'],
  properties: { name: name(64), character_set: nullableString(64), collate: nullableString(64) },
};

const userItem = {
  type: 'object',
  required: ['name', 'password'],
  properties: {
    name: name(80),
    password: { type: 'string', minLength: 1, maxLength: 255 },
    host: nullableString(255),
    databases: { type: 'array', maxItems: 1000, items: databaseItem },
  },
};

/** One member, as Trove's client sends it (create and grow). */
const clusterMember = (grow: boolean) => ({
  type: 'object',
  required: ['flavorRef'],
  properties: {
    flavorRef: idOrName,
    volume: { type: 'object', required: ['size'], properties: { size, type: nullableString() } },
    // Trove's schema says a string; python-troveclient sends a list (--instance type=...).
    // (Each keyword applies to its own type, so a failure names the one that fails.)
    type: { type: ['string', 'array'], minLength: 1, maxLength: 64, minItems: 1, maxItems: 1, items: name(64) },
    nics: { type: ['array', 'null'], maxItems: 16, items: { type: 'object' } },
    availability_zone: nullableString(),
    modules: { type: ['array', 'null'] },
    region_name: nullableString(),
    region: nullableString(),
    ...(grow ? { name: name(), related_to: nullableString() } : {}),
  },
});

export const S = {
  projectParams: {
    type: 'object',
    required: ['project_id'],
    properties: { project_id: { type: 'string', minLength: 1, maxLength: 64 } },
  },
  instanceParams: {
    type: 'object',
    required: ['project_id', 'id'],
    properties: { project_id: { type: 'string' }, id: { type: 'string', minLength: 1, maxLength: 64 } },
  },
  page: {
    type: 'object',
    properties: {
      limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
      marker: { type: 'string', maxLength: 255 },
    },
  },
  createInstance: {
    type: 'object',
    required: ['instance'],
    properties: {
      instance: {
        type: 'object',
        required: ['name'],
        properties: {
          name: name(),
          flavorRef: idOrName,
          volume: { type: ['object', 'null'], required: ['size'], properties: { size, type: nullableString() } },
          datastore: { type: ['object', 'null'], properties: { type: nullableString(64), version: nullableString(64), version_number: nullableString(64) } },
          databases: { type: ['array', 'null'], maxItems: 1000, items: databaseItem },
          users: { type: ['array', 'null'], maxItems: 1000, items: userItem },
          restorePoint: {
            type: ['object', 'null'],
            required: ['backupRef'],
            properties: { backupRef: name(255), restoreTime: nullableString(64), restoreLsn: nullableString(64), restoreGtid: nullableString(255) },
          },
          // Create replicas of this instance (the CLI always sends replica_count with it, and access).
          replica_of: { type: ['string', 'null'], maxLength: 255 },
          replica_count: { type: ['integer', 'null'] },
          // Coffer's own: automatic failover for the set (default: the control's setting).
          auto_failover: { type: ['boolean', 'null'] },
          configuration: { type: ['string', 'null'] },
          modules: { type: ['array', 'null'] },
          access: { type: ['object', 'null'], properties: { is_public: { type: 'boolean' }, allowed_cidrs: { type: ['array', 'null'], items: { type: 'string' } } } },
        },
      },
    },
  },
  updateInstance: {
    type: 'object',
    required: ['instance'],
    properties: {
      instance: {
        type: 'object',
        properties: {
          name: name(),
          configuration: { type: ['string', 'null'] },
          // null detaches a replica (slave_of: older clients' name for it).
          replica_of: { type: ['string', 'null'], maxLength: 255 },
          slave_of: { type: ['string', 'null'], maxLength: 255 },
          datastore_version: { type: ['string', 'null'] },
        },
      },
    },
  },
  action: {
    type: 'object',
    minProperties: 1,
    maxProperties: 1,
    properties: {
      restart: { type: ['object', 'null'] },
      reset_status: { type: ['object', 'null'] },
      promote_to_replica_source: { type: ['object', 'null'] },
      eject_replica_source: { type: ['object', 'null'] },
      resize: {
        type: 'object',
        minProperties: 1,
        properties: { volume: { type: 'object', required: ['size'], properties: { size } }, flavorRef: idOrName },
      },
    },
  },
  createCluster: {
    type: 'object',
    required: ['cluster'],
    properties: {
      cluster: {
        type: 'object',
        required: ['name', 'datastore', 'instances'],
        properties: {
          name: name(),
          datastore: { type: 'object', required: ['type'], properties: { type: name(64), version: nullableString(64) } },
          instances: { type: 'array', minItems: 1, maxItems: 64, items: clusterMember(false) },
          // Kept for Trove's API: the local driver puts every member on this host.
          locality: { type: ['string', 'null'], enum: ['affinity', 'anti-affinity', null] },
          extended_properties: { type: ['object', 'null'] },
          configuration: { type: ['string', 'null'] },
        },
      },
    },
  },
  clusterParams: {
    type: 'object',
    required: ['project_id', 'id'],
    properties: { project_id: { type: 'string' }, id: { type: 'string', minLength: 1, maxLength: 64 } },
  },
  clusterInstanceParams: {
    type: 'object',
    required: ['project_id', 'id', 'instance_id'],
    properties: { project_id: { type: 'string' }, id: { type: 'string', minLength: 1, maxLength: 64 }, instance_id: { type: 'string', minLength: 1, maxLength: 64 } },
  },
  /** Exactly one action: the route names an unknown one, or a second, itself (routes-clusters.ts). */
  clusterAction: {
    type: 'object',
    properties: {
      grow: { type: 'array', minItems: 1, maxItems: 64, items: clusterMember(true) },
      shrink: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'object', required: ['id'], properties: { id: name(64) } } },
      'reset-status': { type: ['object', 'null'] },
    },
  },
  databases: {
    type: 'object',
    required: ['databases'],
    properties: { databases: { type: 'array', minItems: 1, maxItems: 1000, items: databaseItem } },
  },
  databaseParams: {
    type: 'object',
    required: ['project_id', 'id', 'name'],
    properties: { project_id: { type: 'string' }, id: { type: 'string' }, name: name(255) },
  },
  users: {
    type: 'object',
    required: ['users'],
    properties: { users: { type: 'array', minItems: 1, maxItems: 1000, items: userItem } },
  },
  changePasswords: {
    type: 'object',
    required: ['users'],
    properties: {
      users: {
        type: 'array',
        minItems: 1,
        maxItems: 1000,
        items: { type: 'object', required: ['name', 'password'], properties: { name: name(80), host: nullableString(), password: { type: 'string', minLength: 1, maxLength: 255 } } },
      },
    },
  },
  userParams: {
    type: 'object',
    required: ['project_id', 'id', 'user'],
    properties: { project_id: { type: 'string' }, id: { type: 'string' }, user: name(340) },
  },
  userAccessParams: {
    type: 'object',
    required: ['project_id', 'id', 'user', 'database'],
    properties: { project_id: { type: 'string' }, id: { type: 'string' }, user: name(340), database: name(255) },
  },
  updateUser: {
    type: 'object',
    required: ['user'],
    properties: {
      user: {
        type: 'object',
        minProperties: 1,
        properties: { name: name(80), host: nullableString(), password: { type: 'string', minLength: 1, maxLength: 255 } },
      },
    },
  },
  grant: {
    type: 'object',
    required: ['databases'],
    properties: { databases: { type: 'array', minItems: 1, maxItems: 1000, items: databaseItem } },
  },
  enableRoot: {
    type: ['object', 'null'],
    properties: { password: { type: 'string', minLength: 1, maxLength: 255 } },
  },
  createBackup: {
    type: 'object',
    required: ['backup'],
    properties: {
      backup: {
        type: 'object',
        required: ['name'],
        properties: {
          name: name(),
          instance: name(64),
          description: nullableString(1024),
          parent_id: { type: ['string', 'null'], maxLength: 64 },
          incremental: { anyOf: [{ type: 'boolean' }, { type: 'integer', minimum: 0, maximum: 1 }] },
          swift_container: nullableString(),
          restore_from: { type: ['object', 'null'] },
        },
      },
    },
  },
  backupQuery: {
    type: 'object',
    properties: {
      limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
      marker: { type: 'string', maxLength: 255 },
      instance_id: { type: 'string', maxLength: 64 },
      datastore: { type: 'string', maxLength: 64 },
      all_projects: { type: 'string', maxLength: 8 },
      project_id: { type: 'string', maxLength: 64 },
    },
  },
  idParams: {
    type: 'object',
    required: ['project_id', 'id'],
    properties: { project_id: { type: 'string' }, id: { type: 'string', minLength: 1, maxLength: 255 } },
  },
  versionParams: {
    type: 'object',
    required: ['project_id', 'id', 'version'],
    properties: { project_id: { type: 'string' }, id: { type: 'string', minLength: 1, maxLength: 255 }, version: { type: 'string', minLength: 1, maxLength: 255 } },
  },
} as const;

/** The fault body every error answers with (components.schemas.Fault in /openapi.json). */
export const FAULT_SCHEMA = {
  type: 'object',
  description: 'One key, the fault name (badRequest, unauthorized, forbidden, itemNotFound, conflictingRequest, badMediaType, instanceFault, serviceUnavailable)',
  additionalProperties: {
    type: 'object',
    required: ['code', 'message'],
    properties: { code: { type: 'integer' }, message: { type: 'string' }, coffer_error: { type: 'string' } },
  },
};
