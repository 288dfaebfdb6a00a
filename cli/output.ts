// What a command prints: tables for lists and fields for one resource on a
// terminal, or one JSON document on stdout with --json (for scripts: jq,
// bash). Progress and warnings go to stderr so stdout stays parseable.
export interface Streams {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export class Output {
  constructor(
    readonly json: boolean,
    private readonly streams: Streams = { stdout: process.stdout, stderr: process.stderr },
  ) {}

  /** A list: a table, or `data` as JSON. */
  table(headers: readonly string[], rows: readonly (readonly string[])[], data: unknown, empty = '(none)'): void {
    if (this.json) return this.data(data);
    if (rows.length === 0) {
      this.line(empty);
      return;
    }
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const fmt = (cells: readonly string[]) =>
      cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
    this.line(fmt(headers));
    for (const r of rows) this.line(fmt(r));
  }

  /** One resource: aligned "key  value" lines, or `data` as JSON. */
  fields(pairs: ReadonlyArray<readonly [string, string]>, data: unknown): void {
    if (this.json) return this.data(data);
    const shown = pairs.filter(([, v]) => v !== '');
    const width = Math.max(...shown.map(([k]) => k.length));
    for (const [k, v] of shown) this.line(`${k.padEnd(width)}  ${v}`);
  }

  /** A sentence for a person, or `data` as JSON (nothing when data is undefined). */
  done(sentence: string, data?: unknown): void {
    if (this.json) {
      if (data !== undefined) this.data(data);
      return;
    }
    this.line(sentence);
  }

  data(value: unknown): void {
    this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  line(text: string): void {
    this.streams.stdout.write(`${text}\n`);
  }

  /** To stderr, in both modes. */
  note(text: string): void {
    this.streams.stderr.write(`${text}\n`);
  }
}
