// Reads a /metrics endpoint as a scraper does: GET, Prometheus' text
// format, one sample per line ("name{label="value",...} number").
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Scrape {
  readonly status: number;
  readonly contentType: string;
  readonly samples: readonly Sample[];
  /** The value of the one sample with this name whose labels include `labels`; undefined if none. */
  value(name: string, labels?: Readonly<Record<string, string>>): number | undefined;
  /** Every sample with this name whose labels include `labels`. */
  all(name: string, labels?: Readonly<Record<string, string>>): Sample[];
}

export async function scrape(port: number, host = '127.0.0.1'): Promise<Scrape> {
  const res = await fetch(`http://${host}:${port}/metrics`);
  const text = await res.text();
  const samples = text.split('\n').filter((l) => l && !l.startsWith('#')).map(parseLine);
  const all = (name: string, labels: Readonly<Record<string, string>> = {}): Sample[] =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    samples,
    all,
    value(name, labels = {}) {
      const found = all(name, labels);
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
      return found[0]?.value;
    },
  };
}

function parseLine(line: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
  if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
  const labels: Record<string, string> = {};
  for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return { name: m[1]!, labels, value: Number(m[3]) };
}
