// What one upload cost the loopback SAIO (test/support/swift-saio/): the
// CPU-seconds its proxy and object server spent (utime + stime from
// /proc/<pid>/stat of the PIDs start.sh recorded), and what the proxy's
// access log says of the requests the client sent: how many, of which
// method, how many body bytes, and for the part PUTs (Swift segments, S3
// parts: bodies of the part size) when each reached the proxy and how long
// the proxy took to store it. From those: the parts the proxy was working
// on at once on average, and how long after the upload started the first
// part's bytes reached it.
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { cpuSeconds } from './harness.js';

const SERVERS = ['proxy', 'object', 'container', 'account'] as const;
type Server = (typeof SERVERS)[number];

export interface SaioMark {
  readonly at: number;
  readonly cpu: Record<Server, number>;
  readonly logOffset: number;
}

export interface SaioUsage {
  readonly proxyCpu: number;
  readonly objectCpu: number;
  /** Container and account servers together. */
  readonly otherCpu: number;
  /** Client requests (not the proxy's own subrequests), by method: "PUT 33, HEAD 2". */
  readonly requests: string;
  readonly requestCount: number;
  /** Part PUTs: those whose body was `partBytes` long. */
  readonly parts: number;
  /** Sum of part PUT durations at the proxy / the upload's wall time. */
  readonly meanPartsAtProxy: number;
  /** Seconds from the upload's start until the first part PUT reached the proxy. */
  readonly firstPartAfter: number;
  /** Median seconds the proxy spent on one part PUT. */
  readonly medianPartSeconds: number;
  readonly text: string;
}

export class SaioUsageProbe {
  private readonly pids: Record<Server, number>;
  private readonly log: string;

  constructor(stateDir: string) {
    this.pids = Object.fromEntries(
      SERVERS.map((s) => [s, Number(readFileSync(path.join(stateDir, 'run', `${s}.pid`), 'utf8').trim())]),
    ) as Record<Server, number>;
    this.log = path.join(stateDir, 'log', 'proxy.log');
  }

  mark(): SaioMark {
    return {
      at: Date.now() / 1000,
      cpu: Object.fromEntries(SERVERS.map((s) => [s, cpuSeconds(this.pids[s])])) as Record<Server, number>,
      logOffset: statSync(this.log).size,
    };
  }

  /** What the SAIO did since `from`; `partBytes` picks the part PUTs out of the log. */
  since(from: SaioMark, partBytes: number): SaioUsage {
    const to = this.mark();
    const d = (s: Server): number => to.cpu[s] - from.cpu[s];
    const lines = this.readLog(from.logOffset, to.logOffset);
    const byMethod = new Map<string, number>();
    const parts: { start: number; seconds: number }[] = [];
    for (const line of lines) {
      // proxy-logging's fields: client_ip remote_addr datetime method path
      // protocol status referer user_agent token bytes_recvd bytes_sent etag
      // txid headers request_time source log_info start_time end_time policy.
      const f = line.replace(/^.*?proxy-server: /, '').split(' ');
      if (f.length < 20 || f[0] === '-') continue; // the proxy's own subrequests have no client address
      const method = f[3]!;
      byMethod.set(method, (byMethod.get(method) ?? 0) + 1);
      if (method === 'PUT' && Number(f[10]) === partBytes) parts.push({ start: Number(f[18]), seconds: Number(f[15]) });
    }
    const wall = to.at - from.at;
    const busy = parts.reduce((s, p) => s + p.seconds, 0);
    const firstPartAfter = parts.length ? Math.min(...parts.map((p) => p.start)) - from.at : NaN;
    const sorted = parts.map((p) => p.seconds).sort((a, b) => a - b);
    const medianPartSeconds = sorted.length ? sorted[sorted.length >> 1]! : NaN;
    const requests = [...byMethod].map(([m, n]) => `${m} ${n}`).join(', ');
    const usage = {
      proxyCpu: d('proxy'),
      objectCpu: d('object'),
      otherCpu: d('container') + d('account'),
      requests,
      requestCount: [...byMethod.values()].reduce((a, b) => a + b, 0),
      parts: parts.length,
      meanPartsAtProxy: busy / wall,
      firstPartAfter,
      medianPartSeconds,
    };
    return {
      ...usage,
      text:
        `SAIO CPU: proxy ${usage.proxyCpu.toFixed(1)} s, object server ${usage.objectCpu.toFixed(1)} s, ` +
        `container+account ${usage.otherCpu.toFixed(1)} s; requests: ${requests}; ` +
        `${parts.length} part PUTs, ${usage.meanPartsAtProxy.toFixed(1)} at the proxy on average, ` +
        `each ${medianPartSeconds.toFixed(2)} s there (median), the first after ${firstPartAfter.toFixed(2)} s`,
    };
  }

  private readLog(from: number, to: number): string[] {
    if (to <= from) return [];
    const fd = openSync(this.log, 'r');
    try {
      const buf = Buffer.alloc(to - from);
      readSync(fd, buf, 0, buf.length, from);
      return buf.toString('utf8').split('\n').filter((l) => l.includes('proxy-server: '));
    } finally {
      closeSync(fd);
    }
  }
}

/** CPU-seconds of this process's waited-for children so far (cutime + cstime): a bare tool's CPU. */
export function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}
