// A log's last lines, then the lines written after them, the way `tail -F`
// follows: a file renamed away (rotation) is read to its end and the new
// file at the path from its start; a file cut shorter (truncation) is read
// again from its start. The file is polled: a guest's logs are written in
// bursts, and a poll works the same on every filesystem (no inotify limits).
import { open, stat, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const CHUNK = 64 * 1024;
/** How far back the last lines are looked for: a log of huge lines gives fewer. */
const MAX_BACK = 8 * 1024 * 1024;
const POLL_MS = 250;
/** At most this many lines in one callback, so that one message stays small. */
const BATCH = 500;

export interface TailOptions {
  readonly lines: number;
  readonly follow: boolean;
  readonly signal: AbortSignal;
  readonly onLines: (lines: string[]) => void;
  readonly pollMs?: number;
}

async function openIfThere(file: string): Promise<FileHandle | null> {
  try {
    return await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The last `n` complete lines before `end`. */
async function lastLines(fh: FileHandle, end: number, n: number): Promise<string[]> {
  if (n <= 0 || end === 0) return [];
  let start = end;
  let text = '';
  while (start > 0 && end - start < MAX_BACK) {
    const size = Math.min(CHUNK, start);
    start -= size;
    const buf = Buffer.alloc(size);
    await fh.read(buf, 0, size, start);
    text = buf.toString('utf8') + text;
    if (text.split('\n').length > n + 1) break;
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  // The first piece may be the end of a line read only in part.
  if (start > 0) lines.shift();
  return lines.slice(-n);
}

function emit(lines: string[], onLines: (l: string[]) => void): void {
  for (let i = 0; i < lines.length; i += BATCH) onLines(lines.slice(i, i + BATCH));
}

export async function tailFile(file: string, opts: TailOptions): Promise<void> {
  let fh = await openIfThere(file);
  let pos = 0;
  if (fh) {
    pos = (await fh.stat()).size;
    emit(await lastLines(fh, pos, opts.lines), opts.onLines);
  }
  if (!opts.follow) {
    await fh?.close();
    return;
  }
  let partial = '';
  const buf = Buffer.alloc(CHUNK);
  const drain = async (): Promise<void> => {
    if (!fh) return;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const parts = (partial + buf.subarray(0, bytesRead).toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      if (parts.length) emit(parts, opts.onLines);
    }
  };
  try {
    while (!opts.signal.aborted) {
      await drain();
      let current: { ino: number; size: number } | null = null;
      try {
        current = await stat(file);
      } catch {
        // renamed away and not there again yet
      }
      if (fh && (current === null || current.ino !== (await fh.stat()).ino)) {
        // Rotated: what the old file got last is read above; on to the new one.
        await drain();
        if (partial) emit([partial], opts.onLines);
        partial = '';
        await fh.close();
        fh = null;
      } else if (fh && current && current.size < pos) {
        // Truncated in place (copytruncate): read from the start again.
        pos = 0;
        partial = '';
      }
      if (!fh && current) {
        fh = await openIfThere(file);
        pos = 0;
        continue;
      }
      await sleep(opts.pollMs ?? POLL_MS, undefined, { signal: opts.signal }).catch(() => undefined);
    }
  } finally {
    await fh?.close();
  }
}
