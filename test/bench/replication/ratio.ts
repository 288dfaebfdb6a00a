// Coffer's time over the by-hand time across rounds: "median 1.12x (1.05x
// to 1.30x) over 3 rounds; target <= 1.3x: met".
export function timeRatioSummary(pairs: ReadonlyArray<{ hand: number; coffer: number }>, target: number): { median: number; text: string } {
  const ratios = pairs.map((p) => p.coffer / p.hand).sort((a, b) => a - b);
  const mid = ratios.length >> 1;
  const median = ratios.length % 2 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
  const range = `${ratios[0]!.toFixed(2)}x to ${ratios.at(-1)!.toFixed(2)}x`;
  return {
    median,
    text: `Coffer's time / by-hand time: median ${median.toFixed(2)}x (${range}) over ${ratios.length} round${ratios.length === 1 ? '' : 's'}; target <= ${target}x: ${median <= target ? 'met' : 'missed'}`,
  };
}
