// What the agent has published of each log (<agentDir>/published-logs.json,
// 0600): the store, the bytes published, the digest of the file's first
// line then (a changed first line or a shorter file is a rotation) and the
// objects written, so DiscardLog can delete them without listing the store.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface PublishedLog {
  readonly storage: string;
  readonly size: number;
  readonly headerDigest: string;
  readonly objects: readonly string[];
}

export class PublishedStore {
  constructor(private readonly file: string) {}

  all(): Record<string, PublishedLog> {
    return existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, PublishedLog>) : {};
  }

  get(name: string): PublishedLog | undefined {
    const all = this.all();
    return Object.hasOwn(all, name) ? all[name] : undefined;
  }

  set(name: string, value: PublishedLog | undefined): void {
    const all = this.all();
    if (value) all[name] = value;
    else delete all[name];
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(all, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
