// How numbers and states read on the page.
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return '-';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A status's colour class: green when done, amber while working, red when failed. */
export function statusClass(status: string): string {
  switch (status) {
    case 'ACTIVE':
    case 'COMPLETED':
    case 'SUCCEEDED':
    case 'HEALTHY':
    case 'done':
      return 'ok';
    case 'ERROR':
    case 'FAILED':
    case 'failed':
    case 'CRASHED':
      return 'bad';
    case 'SHUTDOWN':
    case 'DELETING':
      return 'off';
    default:
      return 'busy';
  }
}
