// HOST:PORT addresses as the agent's and the control's configurations take
// them, and the loopback test both apply before allowing plaintext.
import { isIP } from 'node:net';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Parses HOST:PORT (IPv6 as [::1]:PORT); `fail` makes the caller's error from a message naming `what`. */
export function parseHostPort(value: string, what: string, fail: (message: string) => Error): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]+):(\d+)$/.exec(value);
  if (!m) throw fail(`${what} must be HOST:PORT (IPv6 as [::1]:PORT), got "${value}"`);
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw fail(`${what} port must be 0-65535, got "${m[2]}"`);
  return { host: m[1]!, port };
}
