// A supervised datastore's output (stderr and stdout lines: MariaDB's error
// log, PostgreSQL's log, Redis's log) appended to a file under the log dir,
// which is what ListLogs, TailLog and PublishLog read. The file is opened
// by path again when it was renamed or removed (a rotation), so a rotated
// log is never written behind the reader's back. Past 64 MiB it is rotated
// (rotate.ts).
import { closeSync, fstatSync, openSync, statSync, writeSync } from 'node:fs';
import { MAX_LOG_BYTES, rotateIfLarger } from './rotate.js';

const RECHECK_MS = 1000;

export class OutputFile {
  private fd: number | null = null;
  private ino = 0;
  private checkedAt = 0;
  private failed = false;

  constructor(
    private readonly file: string,
    private readonly maxBytes = MAX_LOG_BYTES,
  ) {}

  write(line: string): void {
    try {
      this.ensureOpen();
      writeSync(this.fd!, line.endsWith('\n') ? line : `${line}\n`);
      this.failed = false;
    } catch {
      // The agent's own log keeps the line (the process runner logs it); a
      // full or missing log dir must never stop the datastore's supervision.
      this.failed = true;
      this.close();
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private ensureOpen(): void {
    const now = Date.now();
    if (this.fd !== null && !this.failed && now - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = now;
    rotateIfLarger(this.file, this.maxBytes);
    if (this.fd !== null) {
      let current = -1;
      try {
        current = statSync(this.file).ino;
      } catch {
        // removed: open anew below
      }
      if (current === this.ino) return;
      this.close();
    }
    this.fd = openSync(this.file, 'a', 0o640);
    this.ino = fstatSync(this.fd).ino;
  }
}
