// Hand-written SVG: a backup history (size as bars, duration as a line,
// both over time) and a volume gauge. Small enough to need no library.
import { svg } from './dom.js';
import { bytes, seconds } from './format.js';

export interface BackupPoint {
  readonly at: number;
  readonly sizeBytes: number;
  readonly seconds: number;
  readonly name: string;
}

const W = 480;
const H = 160;
const PAD = { l: 56, r: 56, t: 12, b: 28 };

/** Bars: size (left axis); dots joined by a line: duration (right axis). */
export function backupChart(points: readonly BackupPoint[]): SVGElement {
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': 'backup sizes and durations over time' });
  if (!points.length) {
    root.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'muted' }, 'no completed backups yet'));
    return root;
  }
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const t0 = points[0]!.at;
  const t1 = points[points.length - 1]!.at;
  const span = Math.max(t1 - t0, 1);
  const maxSize = Math.max(...points.map((p) => p.sizeBytes), 1);
  const maxSec = Math.max(...points.map((p) => p.seconds), 0.1);
  const x = (t: number): number => PAD.l + (points.length === 1 ? iw / 2 : ((t - t0) / span) * iw);
  const bw = Math.max(4, Math.min(24, iw / points.length / 2));
  root.append(svg('line', { x1: PAD.l, y1: PAD.t + ih, x2: PAD.l + iw, y2: PAD.t + ih, class: 'axis' }));
  root.append(svg('text', { x: PAD.l - 4, y: PAD.t + 8, 'text-anchor': 'end', class: 'size-label' }, bytes(maxSize)));
  root.append(svg('text', { x: PAD.l + iw + 4, y: PAD.t + 8, class: 'time-label' }, seconds(maxSec)));
  root.append(svg('text', { x: PAD.l, y: H - 8, class: 'muted' }, new Date(t0).toLocaleTimeString()));
  if (points.length > 1) root.append(svg('text', { x: PAD.l + iw, y: H - 8, 'text-anchor': 'end', class: 'muted' }, new Date(t1).toLocaleTimeString()));
  let line = '';
  for (const p of points) {
    const bh = (p.sizeBytes / maxSize) * ih;
    const bar = svg('rect', { x: x(p.at) - bw / 2, y: PAD.t + ih - bh, width: bw, height: Math.max(bh, 1), class: 'bar' });
    bar.append(svg('title', {}, `${p.name}: ${bytes(p.sizeBytes)} in ${seconds(p.seconds)}`));
    root.append(bar);
    const y = PAD.t + ih - (p.seconds / maxSec) * ih;
    line += `${line ? 'L' : 'M'}${x(p.at).toFixed(1)},${y.toFixed(1)}`;
    root.append(svg('circle', { cx: x(p.at), cy: y, r: 3, class: 'dot' }));
  }
  if (points.length > 1) root.append(svg('path', { d: line, class: 'line' }));
  return root;
}

/** A horizontal gauge of the volume: used against its size. */
export function volumeGauge(usedBytes: number, sizeBytes: number): SVGElement {
  const frac = sizeBytes > 0 ? Math.min(usedBytes / sizeBytes, 1) : 0;
  const root = svg('svg', { viewBox: `0 0 ${W} 40`, class: 'chart gauge', role: 'img', 'aria-label': `volume ${bytes(usedBytes)} of ${bytes(sizeBytes)} used` });
  root.append(svg('rect', { x: 0, y: 4, width: W, height: 16, rx: 3, class: 'gauge-bg' }));
  root.append(svg('rect', { x: 0, y: 4, width: Math.max(W * frac, 2), height: 16, rx: 3, class: frac > 0.9 ? 'gauge-fill bad' : 'gauge-fill' }));
  root.append(svg('text', { x: 0, y: 36, class: 'muted' }, `${bytes(usedBytes)} of ${bytes(sizeBytes)} (${(frac * 100).toFixed(frac < 0.1 ? 2 : 0)} %)`));
  return root;
}

/** A sparkline of the volume's use while the page is open. */
export function volumeHistory(samples: readonly number[], sizeBytes: number): SVGElement {
  const root = svg('svg', { viewBox: `0 0 ${W} 48`, class: 'chart spark', role: 'img', 'aria-label': 'volume use while this page is open' });
  if (samples.length < 2) return root;
  const max = Math.max(...samples, 1);
  const top = Math.max(max, sizeBytes * 0.05);
  const d = samples.map((v, i) => `${i ? 'L' : 'M'}${((i / (samples.length - 1)) * W).toFixed(1)},${(44 - (v / top) * 40).toFixed(1)}`).join('');
  root.append(svg('path', { d, class: 'line' }));
  return root;
}
