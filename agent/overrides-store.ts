// The configuration overrides in force, kept by the agent (0600 JSON) so the
// config file can always be rendered again from template + overrides.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

export class OverridesStore {
  constructor(private readonly file: string) {}

  get(): Record<string, string> {
    return existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string>) : {};
  }

  set(values: Readonly<Record<string, string>>): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(values, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
