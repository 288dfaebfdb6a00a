// The replica's side of a clone (clone-endpoint.ts is the source's): a TLS
// connection to the source's one-shot endpoint, verified against the
// deployment's CA for the source's address (as the datastore's replication
// TLS is: MASTER_SSL_VERIFY_SERVER_CERT), the ticket presented, and the
// copy's payload as a stream that fails unless it arrived whole
// (clone-wire.ts's FrameDecoder).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { CofferError } from '../../lib/coded-error.js';
import { AgentError } from '../errors.js';
import { FrameDecoder, helloLine, type CloneCompression } from './clone-wire.js';
import { readLine } from './clone-endpoint.js';

export interface CloneConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly ticket: string;
  /** The deployment CA (a file). */
  readonly ca: string;
  readonly compression: CloneCompression;
  readonly signal: AbortSignal;
  readonly connectTimeoutMs?: number;
}

export interface CloneConnection {
  /** The tool the source runs (mariadb-backup). */
  readonly tool: string;
  /** The copy's payload; its trailer is on it once it ended. */
  readonly payload: FrameDecoder;
  close(): void;
}

export async function connectClone(o: CloneConnectOptions): Promise<CloneConnection> {
  const where = `${o.host}:${o.port}`;
  const socket = tls.connect({
    host: o.host,
    port: o.port,
    ca: readFileSync(o.ca),
    // SNI takes names only; an address is checked against the certificate's IP entries.
    ...(isIP(o.host) ? {} : { servername: o.host }),
    minVersion: 'TLSv1.2',
  });
  const onAbort = (): void => void socket.destroy(new Error('cancelled'));
  o.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => socket.destroy(new Error('timed out')), o.connectTimeoutMs ?? 30_000);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } catch (err) {
    o.signal.removeEventListener('abort', onAbort);
    const e = err as NodeJS.ErrnoException;
    if (o.signal.aborted) throw new AgentError('AGENT_ERR_CANCELLED', 'cloning the source was cancelled');
    if (e.code === 'ECONNREFUSED') {
      throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', `the source's clone endpoint ${where} refuses connections: it was used already, has expired, or was never opened (AddReplicaAccess with a clone_ticket opens one)`);
    }
    if (/certificate|self.signed|altname|SSL|TLS/i.test(`${e.code ?? ''} ${e.message}`)) {
      throw new AgentError('AGENT_ERR_DATASTORE', `TLS to the source's clone endpoint ${where} failed (its certificate is checked against the deployment's CA for that address): ${e.message}`);
    }
    throw new AgentError('AGENT_ERR_DATASTORE', `the source's clone endpoint ${where} cannot be reached: ${e.message}`);
  }
  socket.on('error', () => undefined);
  socket.write(helloLine(o.compression, o.ticket));
  let answer: string;
  try {
    answer = await readLine(socket, 60_000);
  } catch (err) {
    socket.destroy();
    o.signal.removeEventListener('abort', onAbort);
    throw new AgentError('AGENT_ERR_DATASTORE', `the source's clone endpoint ${where} did not answer: ${(err as Error).message}`);
  }
  if (!answer.startsWith('OK ')) {
    socket.destroy();
    o.signal.removeEventListener('abort', onAbort);
    const reason = answer.startsWith('ERR ') ? answer.slice(4) : `an unexpected answer (${JSON.stringify(answer.slice(0, 60))})`;
    throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', `the source ${where} refused the clone: ${reason}`);
  }
  const payload = new FrameDecoder(where);
  // A connection that breaks is a truncated copy: the decoder says so at its end.
  socket.removeAllListeners('error');
  socket.on('error', (err) => payload.destroy(new CofferError('DATASTORE', `the clone from ${where} broke off after ${payload.bytes} bytes: ${err.message}`)));
  // Closed without an end (nor an error): as truncated as a broken connection.
  socket.once('close', () => {
    if (!payload.writableEnded && !payload.destroyed) payload.destroy(new CofferError('DATASTORE', `the clone from ${where} was closed after ${payload.bytes} bytes without its end`));
  });
  socket.pipe(payload);
  socket.resume();
  payload.once('close', () => o.signal.removeEventListener('abort', onAbort));
  return {
    tool: answer.slice(3).trim(),
    payload,
    close: () => socket.destroy(),
  };
}
