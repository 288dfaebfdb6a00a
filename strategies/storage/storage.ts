// The storage contract every backup store implements (local directory,
// Swift, S3). Trove's contract, kept: save(stream) -> (checksum, location).
// A sink commits the object only when the stream ends cleanly (`final`) and
// removes what it wrote when the stream is destroyed, so a failed or
// cancelled backup leaves nothing behind.
import type { Readable, Writable } from 'node:stream';

/** Where an object lives, as recorded with a backup. */
export interface ObjectLocation {
  /** Strategy name: local, swift, s3. */
  readonly storage: string;
  /** Strategy-specific: a path, "container/object", "bucket/key". */
  readonly location: string;
}

export interface SavedObject extends ObjectLocation {
  /** Bytes stored. */
  readonly size: number;
  /** sha256 of the stored bytes, hex. */
  readonly sha256: string;
}

export interface SaveOptions {
  /** String metadata stored with the object (Swift X-Object-Meta-*, S3 x-amz-meta-*). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}

/** A writable for one object; `done` settles after the object is committed or cleaned up. */
export interface ObjectSink {
  readonly stream: Writable;
  readonly done: Promise<SavedObject>;
}

export interface StoredObject {
  readonly stream: Readable;
  readonly size: number;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ObjectStorage {
  readonly name: string;
  /** `key` is relative (e.g. "<instance>/<backup-id>.xbstream.zst.enc"); the store adds its prefix/container. */
  save(key: string, opts: SaveOptions): ObjectSink;
  open(location: string, opts?: { signal?: AbortSignal }): Promise<StoredObject>;
  /** Object metadata without its bytes. */
  stat(location: string): Promise<{ size: number; metadata: Readonly<Record<string, string>> }>;
  /** Removes the object and anything it consists of (segments, parts). Missing is not an error. */
  delete(location: string): Promise<void>;
  /** The location save(key) records for its object, without saving anything. */
  locationOf(key: string): string;
  /**
   * Removes what uploads under `keyPrefix` left behind without committing:
   * partial files (local), segments no committed manifest lists (Swift),
   * multipart uploads never completed (S3). Committed objects stay. A sink
   * cleans up after itself, but not when its process is killed: this is
   * for whoever knows no upload under the prefix is still wanted (an agent
   * at its start, the control once a backup has failed). With
   * `startedBefore` (ms since the epoch), an upload started at or after it
   * is kept: the one a restarted agent may already be running. Returns the
   * names removed, for the log.
   */
  removeAbandoned(keyPrefix: string, opts?: AbandonedOptions): Promise<string[]>;
}

export interface AbandonedOptions {
  readonly startedBefore?: number;
}
