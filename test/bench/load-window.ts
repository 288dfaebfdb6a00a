// The load average across a long measurement (issue 18's 30-minute loads):
// /proc/loadavg's 1-minute figure sampled every `everyMs`, summarised as
// "1-min load 3.1 to 7.9 (mean 5.2) over 31 samples" beside the figure.
import { loadavg } from './harness.js';

export interface LoadWindow {
  stop(): string;
}

export function loadWindow(everyMs = 60_000): LoadWindow {
  const samples: number[] = [];
  const take = () => samples.push(Number(loadavg().split(' ')[0]));
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      const mean = samples.reduce((s, x) => s + x, 0) / samples.length;
      return `1-min load ${Math.min(...samples).toFixed(1)} to ${Math.max(...samples).toFixed(1)} (mean ${mean.toFixed(1)}) over ${samples.length} samples`;
    },
  };
}
