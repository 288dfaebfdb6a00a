// Where the datastore reaches the running agent to hand over closed log
// files and fetch archived ones back (local-socket.ts): a unix socket in
// its own directory under the base dir, open to root and the datastore's
// group only. The directory's name is as short as run/ and prun/ (the
// socket-length rule of lib/base-dir.ts), the socket's name shorter than
// the longest one that rule allows.
import path from 'node:path';
import type { Layout } from '../layout.js';

export const ARCHIVE_SOCKET_SUBDIR = 'arun';
export const ARCHIVE_SOCKET_NAME = 'coffer.sock';

export const archiveSocketPath = (layout: Layout): string => path.join(layout.baseDir, ARCHIVE_SOCKET_SUBDIR, ARCHIVE_SOCKET_NAME);

/** The URL host the tiny client sends (any name: the socket is the address). */
export const ARCHIVE_URL_BASE = 'http://coffer';
