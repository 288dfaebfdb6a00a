// A small QMP client (QEMU Machine Protocol, JSON lines on a unix socket):
// one connection per call, since QEMU serves one QMP client at a time and
// the driver's calls are rare (quit, powerdown, block_resize, status).
import { createConnection } from 'node:net';

export class QmpError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QmpError';
  }
}

interface QmpReply {
  return?: unknown;
  error?: { class: string; desc: string };
  event?: string;
  QMP?: unknown;
}

/**
 * Connects, negotiates capabilities, runs `command` with `args` and returns
 * its `return`. A QMP error becomes a QmpError with QEMU's description.
 */
export function qmp<T = unknown>(socket: string, command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const conn = createConnection(socket);
    let buffered = '';
    let stage: 'greeting' | 'capabilities' | 'command' = 'greeting';
    const timer = setTimeout(() => finish(new QmpError(`QMP ${command} on ${socket} got no answer in ${timeoutMs} ms`)), timeoutMs);
    const finish = (err: Error | null, value?: unknown) => {
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const send = (execute: string, a?: Record<string, unknown>) => conn.write(`${JSON.stringify(a ? { execute, arguments: a } : { execute })}\n`);
    conn.setEncoding('utf8');
    conn.on('error', (err) => finish(new QmpError(`QMP ${command}: cannot talk to ${socket}: ${err.message}`, { cause: err })));
    conn.on('close', () => {
      // quit closes the connection, sometimes before its answer arrives.
      if (stage === 'command' && command === 'quit') finish(null, {});
      else finish(new QmpError(`QMP ${command}: QEMU closed ${socket}`));
    });
    conn.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        let reply: QmpReply;
        try {
          reply = JSON.parse(line) as QmpReply;
        } catch {
          return finish(new QmpError(`QMP ${command}: not JSON from ${socket}: ${line.slice(0, 200)}`));
        }
        if (reply.event) continue;
        if (stage === 'greeting') {
          stage = 'capabilities';
          send('qmp_capabilities');
        } else if (reply.error) {
          return finish(new QmpError(`QMP ${stage === 'command' ? command : 'qmp_capabilities'} failed: ${reply.error.desc} (${reply.error.class})`));
        } else if (stage === 'capabilities') {
          stage = 'command';
          send(command, args);
        } else {
          return finish(null, reply.return);
        }
      }
    });
  });
}
