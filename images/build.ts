// The VM image builder's entry point (issue 14): ensureImage returns the
// path of a bootable Debian 12 qcow2 holding the agent and the datastore,
// building it when no cached image matches the repository's inputs.
// STUB: the builder lands in the following commits.

export type ImageDatastore = 'mariadb' | 'postgresql' | 'redis';

export interface EnsureImageOptions {
  readonly datastore: ImageDatastore;
  /** Where images are cached (default /var/cache/coffer/images, or $COFFER_IMAGE_CACHE). */
  readonly cacheDir?: string;
  /** Build progress lines (default: none). */
  readonly onLine?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** The cached image's absolute path, built first when missing (minutes cold, instant cached). */
export async function ensureImage(_opts: EnsureImageOptions): Promise<string> {
  throw new Error('images/build.ts: not built yet');
}
