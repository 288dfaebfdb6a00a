// Showing a long operation's progress on stderr: a cli-progress bar on a
// terminal, one line per phase when stderr is a pipe or a log (CI, make up
// under a pager), nothing with --json. COFFER_PROGRESS=bar|plain|none
// overrides the choice.
import cliProgress from 'cli-progress';

export type ProgressMode = 'bar' | 'plain' | 'none';

export interface ProgressDisplay {
  start(title: string): void;
  /** percent: 0..100 for the whole operation; label: what is happening. */
  update(percent: number, label: string): void;
  stop(): void;
}

export function progressMode(json: boolean, env: NodeJS.ProcessEnv, stderrIsTty: boolean): ProgressMode {
  const forced = env.COFFER_PROGRESS;
  if (forced === 'bar' || forced === 'plain' || forced === 'none') return forced;
  if (json) return 'none';
  return stderrIsTty ? 'bar' : 'plain';
}

const clamp = (p: number): number => Math.max(0, Math.min(100, Math.round(p)));

class BarDisplay implements ProgressDisplay {
  private bar: cliProgress.SingleBar | null = null;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  start(title: string): void {
    this.bar = new cliProgress.SingleBar(
      {
        format: `${title} [{bar}] {percentage}% | {label}`,
        stream: this.stream,
        hideCursor: true,
        barsize: 30,
        // Drawn even when stderr is not a terminal (COFFER_PROGRESS=bar).
        noTTYOutput: !this.stream.isTTY,
        notTTYSchedule: 500,
        linewrap: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(100, 0, { label: 'starting' });
  }

  update(percent: number, label: string): void {
    this.bar?.update(clamp(percent), { label });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

class LineDisplay implements ProgressDisplay {
  private last = '';

  constructor(private readonly stream: NodeJS.WritableStream) {}

  start(title: string): void {
    this.stream.write(`${title}\n`);
  }

  update(percent: number, label: string): void {
    if (label === this.last) return;
    this.last = label;
    this.stream.write(`  [${String(clamp(percent)).padStart(3)}%] ${label}\n`);
  }

  stop(): void {}
}

const NONE: ProgressDisplay = { start() {}, update() {}, stop() {} };

export function createDisplay(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  if (mode === 'bar') return new BarDisplay(stream);
  if (mode === 'plain') return new LineDisplay(stream);
  return NONE;
}
