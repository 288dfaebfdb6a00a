// The connection to coffer-control: one client per service on one target,
// every call carrying the token (metadata "authorization: Bearer <token>")
// and a deadline. Failures come back as CliErrors with a sentence to act on.
import { credentials, Metadata, type CallOptions, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { InstanceServiceClient } from '../proto/gen/coffer/control/v1/instances.js';
import { AccountServiceClient } from '../proto/gen/coffer/control/v1/accounts.js';
import { BackupServiceClient } from '../proto/gen/coffer/control/v1/backups.js';
import { CatalogServiceClient } from '../proto/gen/coffer/control/v1/catalog.js';
import { TaskServiceClient } from '../proto/gen/coffer/control/v1/tasks.js';
import { ClusterServiceClient } from '../proto/gen/coffer/control/v1/clusters.js';
import { LogServiceClient } from '../proto/gen/coffer/control/v1/logs.js';
import { ConfigurationServiceClient } from '../proto/gen/coffer/control/v1/configurations.js';
import { ConsoleServiceClient } from '../proto/gen/coffer/control/v1/console.js';
import { toCliError } from './errors.js';
import type { CliSettings } from './settings.js';

type Callback<Res> = (err: ServiceError | null, res: Res) => void;

let quietIpServername = false;
/**
 * grpc-js hands Node's TLS the endpoint's host as the SNI server name even
 * when it is an IP address, and Node warns about that on every connection
 * (DEP0123). The name is only a hint there (the certificate is checked
 * against the IP address's SAN all the same), so this one warning is
 * dropped rather than printed above every command's output.
 */
function quietIpServernameWarning(): void {
  if (quietIpServername) return;
  quietIpServername = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const code = typeof args[1] === 'object' && args[1] !== null ? (args[1] as { code?: unknown }).code : args[2];
    if (code === 'DEP0123') return;
    emit(...args);
  }) as typeof process.emitWarning;
}

export class Connection {
  readonly instances: InstanceServiceClient;
  readonly accounts: AccountServiceClient;
  readonly backups: BackupServiceClient;
  readonly catalog: CatalogServiceClient;
  readonly tasks: TaskServiceClient;
  readonly clusters: ClusterServiceClient;
  readonly logs: LogServiceClient;
  readonly configurations: ConfigurationServiceClient;
  readonly console: ConsoleServiceClient;

  constructor(readonly settings: CliSettings) {
    // TLS unless --plaintext said otherwise (allowed only to loopback, as
    // coffer-control's --plaintext-loopback).
    if (settings.tls.kind === 'tls') quietIpServernameWarning();
    const creds = settings.tls.kind === 'plaintext' ? credentials.createInsecure() : credentials.createSsl(settings.tls.ca);
    const target = settings.endpoint;
    this.instances = new InstanceServiceClient(target, creds);
    this.accounts = new AccountServiceClient(target, creds);
    this.backups = new BackupServiceClient(target, creds);
    this.catalog = new CatalogServiceClient(target, creds);
    this.tasks = new TaskServiceClient(target, creds);
    this.clusters = new ClusterServiceClient(target, creds);
    this.logs = new LogServiceClient(target, creds);
    this.configurations = new ConfigurationServiceClient(target, creds);
    this.console = new ConsoleServiceClient(target, creds);
  }

  private metadata(): Metadata {
    const md = new Metadata();
    md.set('authorization', `Bearer ${this.settings.token}`);
    return md;
  }

  /**
   * One unary call: `invoke` calls the generated method with the metadata,
   * options and callback it is given, e.g.
   * `conn.unary<ListInstancesResponse>((md, o, cb) => conn.instances.listInstances(req, md, o, cb))`.
   */
  unary<Res>(invoke: (md: Metadata, options: Partial<CallOptions>, cb: Callback<Res>) => unknown, timeoutMs = this.settings.timeoutMs): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      invoke(this.metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => (err ? reject(this.error(err)) : resolve(res)));
    });
  }

  /** Opens a server stream (no deadline: a watch lasts as long as the operation). */
  stream<T>(open: (md: Metadata) => ClientReadableStream<T>): ClientReadableStream<T> {
    return open(this.metadata());
  }

  error(err: unknown): Error {
    return toCliError(err, { endpoint: this.settings.endpoint, plaintext: this.settings.tls.kind === 'plaintext' });
  }

  close(): void {
    for (const c of [this.instances, this.accounts, this.backups, this.catalog, this.tasks, this.clusters, this.logs, this.configurations, this.console]) c.close();
  }
}
