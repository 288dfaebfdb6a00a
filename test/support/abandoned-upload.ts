// For tests of what a killed agent leaves in a store: hold a backup in the
// middle of its upload by pausing the real backup tool (SIGSTOP, with short
// SIGCONT slices until the store shows the upload), and list what is left
// of unfinished uploads in each store, looking at the store directly.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SwiftProbe } from './swift.js';

/** The pid of a running mariadb-backup whose command line mentions `marker` (a base dir). */
export function backupToolPid(marker: string): number | undefined {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0] ?? '') === 'mariadb-backup' && argv.join(' ').includes(marker)) return Number(p);
    } catch {
      // gone
    }
  }
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for the backup tool to start, then lets it run only in 20 ms slices
 * until `visible()` says the store holds part of the upload. Returns the
 * tool's pid, stopped: the upload can neither finish nor go on.
 */
export async function holdMidUpload(marker: string, visible: () => Promise<boolean>, ended: () => unknown = () => false, timeoutMs = 120_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let pid: number | undefined;
  while (!(pid = backupToolPid(marker))) {
    const end = ended();
    if (end) throw new Error(`the backup ended before mariadb-backup started: ${String(end)}`);
    if (Date.now() > deadline) throw new Error('mariadb-backup did not start');
    await sleep(10);
  }
  for (;;) {
    process.kill(pid, 'SIGSTOP');
    // Let what the tool already wrote reach the store before looking.
    await sleep(200);
    if (await visible()) return pid;
    if (Date.now() > deadline) throw new Error('the upload never showed in the store');
    process.kill(pid, 'SIGCONT');
    await sleep(20);
  }
}

/** Hidden partial files under a local store's directory. */
export function localPartials(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true }).map(String).filter((f) => /(^|\/)\.[^/]*\.partial-/.test(f));
  } catch {
    return [];
  }
}

/** Segments in a Swift segment container (of objects whose names start with `prefix`). */
export const swiftSegments = (probe: SwiftProbe, segmentContainer: string, prefix = ''): Promise<string[]> => probe.list(segmentContainer, prefix);

/** Multipart uploads not completed or aborted in an S3 bucket. */
export async function s3Uploads(s3: S3Client, bucket: string): Promise<string[]> {
  const r = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (r.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`);
}

/** Polls until `fn` returns an empty list; returns the last list (empty, or what was left at the deadline). */
export async function untilEmpty(fn: () => Promise<string[]> | string[], timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await fn();
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(250);
  }
}
