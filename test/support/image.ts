// The VM image for a test: built once (minutes, as root) or reused from
// the cache (/var/cache/coffer/images, instant), its progress as TAP
// comments. docs/images.md.
import { ensureImage, imagePath, type ImageDatastore } from '../../images/build.js';
import { existsSync } from 'node:fs';

export interface CommentSink {
  comment(...msg: unknown[]): void;
}

/** The image's path, building it first when no cached one matches the repository. */
export function vmImage(t: CommentSink, datastore: ImageDatastore = 'mariadb'): Promise<string> {
  return ensureImage({ datastore, onLine: (l) => t.comment(`image: ${l}`) });
}

/** Whether the image for the repository as it is is already built (a test can skip instead of building). */
export function vmImageCached(datastore: ImageDatastore = 'mariadb'): boolean {
  return existsSync(imagePath(datastore));
}
