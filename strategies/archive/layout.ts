// How a continuous archive (PostgreSQL WAL, MariaDB/MySQL binary logs) lies
// in a backup store, named once for the agent that writes it, the agent
// that restores from it and the control that prunes it (issue 18,
// docs/pitr.md):
//
//   <prefix>/                       default "<instance id>/archive", beside
//                                   the instance's backups "<instance id>/<backup id>.backup"
//   <prefix>/<kind>/<name>          one archived segment or binlog, as the
//                                   backup pipeline stores a backup: compressed,
//                                   then framed AES-256-GCM under its own data
//                                   key (docs/backup-format.md); kind is "wal"
//                                   or "binlog", name the datastore's file name
//   <prefix>/catalogue.json         every archived object with its range and
//                                   checksum (ArchiveCatalogue), rewritten
//                                   after each durable upload; not secret (the
//                                   data keys are wrapped in each object's
//                                   header), and an object's frames are
//                                   authenticated whatever the catalogue says
//
// Each object also carries its range as store metadata (Swift
// X-Object-Meta-*, S3 x-amz-meta-*, the local sidecar), so a catalogue lost
// or behind can be rebuilt from the objects.
import path from 'node:path/posix';
import type { CompressionName } from '../backup/compression.js';

/** Which change log an archive holds. */
export type ArchiveKind = 'wal' | 'binlog';

export const CATALOGUE_VERSION = 1;

/** The archive of an instance when nothing names another prefix. */
export const defaultArchivePrefix = (instanceId: string): string => `${instanceId}/archive`;

/**
 * The archive beside a backup: a backup's object is "<prefix>/<id>.backup"
 * (storage/backup-objects.ts), its instance's archive "<prefix>/archive".
 * Works on a key and on a store location alike (both end in the key).
 */
export const archivePrefixBesideBackup = (backupLocation: string): string => `${path.dirname(backupLocation)}/archive`;

/** A store location turned back into the key save() was given (a location is the key after the store's container or bucket). */
export function keyOfLocation(store: { locationOf(key: string): string }, location: string): string {
  const lead = store.locationOf('x').slice(0, -1);
  return location.startsWith(lead) ? location.slice(lead.length) : location;
}

/** One archived segment or binlog. `name` is the datastore's file name ("000000010000000000000003", "mariadb-bin.000007"). */
export const archivedObjectKey = (prefix: string, kind: ArchiveKind, name: string): string => `${trimSlash(prefix)}/${kind}/${name}`;

export const catalogueKey = (prefix: string): string => `${trimSlash(prefix)}/catalogue.json`;

const trimSlash = (p: string): string => p.replace(/\/+$/, '');

/** The names archive objects may have: a datastore's log file names, nothing that could climb out of the prefix. */
export const ARCHIVED_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * One archived object and the range it covers. Positions are the
 * datastore's own notation: PostgreSQL LSNs ("0/3000028"), MariaDB GTID
 * positions ("0-1-42") or MySQL GTID sets.
 */
export interface ArchivedObject {
  readonly kind: ArchiveKind;
  /** The datastore's file name; also the last part of the key. */
  readonly name: string;
  /** The object's key relative to the store (archivedObjectKey). */
  readonly key: string;
  /** The position where the object's changes start, and where they end (exclusive for LSNs, the last GTID for binlogs). */
  readonly startPosition: string;
  readonly endPosition: string;
  /** PostgreSQL: the timeline the segment belongs to; 0 for binlogs. */
  readonly timeline: number;
  /**
   * Commit times (Unix ms) of the first and last transaction the object
   * holds; both 0 when it holds none (a segment switched by archive_timeout
   * on a quiet server).
   */
  readonly firstCommitMs: number;
  readonly lastCommitMs: number;
  /** When the datastore handed the closed object to the agent, and when it became durable in the store. */
  readonly closedAtMs: number;
  readonly archivedAtMs: number;
  /** Bytes of the log file, and of the stored object. */
  readonly rawBytes: number;
  readonly storedBytes: number;
  /** sha256 of the stored bytes, hex: verified before any byte is given to the datastore. */
  readonly sha256: string;
  readonly compression: CompressionName;
  /** The framing's parameters (the wrapped data key is in the object's header). */
  readonly encryption: { readonly algorithm: string; readonly keyId: string; readonly frameSize: number };
}

/** <prefix>/catalogue.json. `objects` are in log order (segment or binlog sequence). */
export interface ArchiveCatalogue {
  readonly version: typeof CATALOGUE_VERSION;
  readonly kind: ArchiveKind;
  /** The instance that writes this archive. */
  readonly instanceId: string;
  readonly updatedAtMs: number;
  readonly objects: readonly ArchivedObject[];
}

/** The store metadata an object carries (names and values within storage/metadata.ts's rules). */
export function objectMetadata(o: Omit<ArchivedObject, 'key' | 'storedBytes' | 'sha256' | 'archivedAtMs' | 'encryption'>): Record<string, string> {
  return {
    'coffer-archive-kind': o.kind,
    'coffer-archive-name': o.name,
    'coffer-archive-start': o.startPosition || '-',
    'coffer-archive-end': o.endPosition || '-',
    'coffer-archive-timeline': String(o.timeline),
    'coffer-archive-first-commit-ms': String(o.firstCommitMs),
    'coffer-archive-last-commit-ms': String(o.lastCommitMs),
    'coffer-archive-closed-at-ms': String(o.closedAtMs),
    'coffer-archive-raw-bytes': String(o.rawBytes),
    'coffer-archive-compression': o.compression,
  };
}

/** Parses a catalogue read from the store; a malformed one is an Error naming what is wrong. */
export function parseCatalogue(text: string, where: string): ArchiveCatalogue {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`the archive catalogue ${where} is not JSON: ${(err as Error).message}`);
  }
  const c = value as Partial<ArchiveCatalogue>;
  if (c === null || typeof c !== 'object' || c.version !== CATALOGUE_VERSION || !Array.isArray(c.objects)) {
    throw new Error(`the archive catalogue ${where} is not a version ${CATALOGUE_VERSION} catalogue`);
  }
  for (const o of c.objects) {
    if (typeof o?.name !== 'string' || !ARCHIVED_NAME.test(o.name) || typeof o.sha256 !== 'string' || typeof o.key !== 'string') {
      throw new Error(`the archive catalogue ${where} holds a malformed entry ${JSON.stringify(o?.name)}`);
    }
  }
  return c as ArchiveCatalogue;
}
