// What makes this server a standby of a source, and the write fence, kept
// by the agent and rendered into files the server reads:
//
//   <agent>/pg-replication.json   the state (no secret): the source followed, fenced or not
//   <etc>/replication.conf        included last by postgresql.conf (conf.ts): primary_conninfo,
//                                 primary_slot_name, and default_transaction_read_only when fenced
//   <etc>/replication/passfile    the replication password, libpq's passfile, owned by postgres, 0600
//   <etc>/replication/ca.crt      the deployment's CA, which the source's certificate is verified against
//   <data>/standby.signal         start as a standby (never as a primary)
//
// The password is never in postgresql.conf, a command line or a log: the
// connection string names the passfile. Nothing here is in the data
// directory but the signal file, so a backup of a replica carries no secret.
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { OsUser } from '../../../../lib/os-user.js';
import type { Layout } from '../../../layout.js';
import { AgentError } from '../../../errors.js';
import { confLiteral, replicationConfFile } from '../conf.js';
import type { CheckedSource } from './names.js';

/** The source a standby follows, as kept (no password). */
export interface FollowedSource {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly slot: string;
  readonly instanceId: string;
}

export interface ReplicationState {
  readonly fenced: boolean;
  readonly source: FollowedSource | null;
}

const EMPTY: ReplicationState = { fenced: false, source: null };

/** A libpq connection-string value, quoted (libpq: single quotes, \' and \\). */
export function conninfoValue(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A libpq passfile field (":" and "\" escaped). */
function passfileField(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

export class ReplicationSettings {
  readonly stateFile: string;
  readonly confFile: string;
  readonly dir: string;
  readonly passfile: string;
  readonly caCopy: string;

  constructor(
    private readonly layout: Layout,
    private readonly pgUser: () => OsUser,
    /** The deployment's CA (the agent's --tls-ca); null when the agent runs without TLS. */
    private readonly caFile: string | null,
  ) {
    this.stateFile = path.join(layout.agentDir, 'pg-replication.json');
    this.confFile = replicationConfFile(layout.etcDir);
    this.dir = path.join(layout.etcDir, 'replication');
    this.passfile = path.join(this.dir, 'passfile');
    this.caCopy = path.join(this.dir, 'ca.crt');
  }

  get(): ReplicationState {
    if (!existsSync(this.stateFile)) return EMPTY;
    const s = JSON.parse(readFileSync(this.stateFile, 'utf8')) as Partial<ReplicationState>;
    return { fenced: s.fenced === true, source: s.source ?? null };
  }

  /** Saves the state and renders replication.conf from it; returns the render's id (see awaitReload). */
  save(patch: Partial<ReplicationState>): string {
    const next = { ...this.get(), ...patch };
    mkdirSync(this.layout.agentDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(next) + '\n', { mode: 0o600 });
    renameSync(tmp, this.stateFile);
    return this.render(next);
  }

  /** replication.conf for a state. A new settings id each time tells a reload that read it apart. */
  render(state: ReplicationState = this.get()): string {
    const id = randomBytes(8).toString('hex');
    const lines = ['# Rendered by coffer-agent from its replication state. Do not edit.', `coffer.settings_id = '${id}'`];
    if (state.source) lines.push(`primary_conninfo = ${confLiteral(this.conninfo(state.source))}`, `primary_slot_name = ${confLiteral(state.source.slot)}`);
    if (state.fenced) lines.push('# Fenced: the agent refuses every client (pg_hba.conf); its own sessions read only.', 'default_transaction_read_only = on');
    mkdirSync(this.layout.etcDir, { recursive: true, mode: 0o755 });
    const tmp = `${this.confFile}.tmp`;
    writeFileSync(tmp, lines.join('\n') + '\n', { mode: 0o644 });
    chmodSync(tmp, 0o644);
    renameSync(tmp, this.confFile);
    return id;
  }

  /**
   * The connection to the source, as the standby's WAL receiver and
   * pg_rewind use it: TLS verified against the deployment's CA for the
   * source's address, the password from the passfile.
   */
  conninfo(source: FollowedSource, extra: Readonly<Record<string, string>> = {}): string {
    const fields: Record<string, string> = {
      host: source.host,
      port: String(source.port),
      user: source.user,
      passfile: this.passfile,
      sslmode: 'verify-full',
      sslrootcert: this.caCopy,
      // No client certificate: the server runs with the agent's HOME, and
      // libpq's default (~/.postgresql/postgresql.crt) would then be a file
      // postgres may not open, which fails the connection. A path that does
      // not exist means none.
      sslcert: path.join(this.dir, 'no-client-certificate'),
      sslkey: path.join(this.dir, 'no-client-key'),
      application_name: source.slot,
      connect_timeout: '10',
      ...extra,
    };
    return Object.entries(fields)
      .map(([k, v]) => `${k}=${conninfoValue(v)}`)
      .join(' ');
  }

  /** The passfile and the CA copy the connection string names. */
  writeSecrets(source: CheckedSource): void {
    if (!this.caFile) {
      throw new AgentError('AGENT_ERR_NOT_READY', "replication needs the deployment's CA to verify the source (the agent runs without --tls-ca)");
    }
    const pg = this.pgUser();
    mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    chownSync(this.dir, 0, pg.gid);
    chmodSync(this.dir, 0o750);
    const ca = `${this.caCopy}.tmp`;
    copyFileSync(this.caFile, ca);
    chownSync(ca, 0, pg.gid);
    chmodSync(ca, 0o640);
    renameSync(ca, this.caCopy);
    // libpq ignores a passfile that group or others may read.
    const line = [source.host, String(source.port), '*', source.user, source.password].map(passfileField).join(':');
    const tmp = `${this.passfile}.tmp`;
    rmSync(tmp, { force: true });
    writeFileSync(tmp, line + '\n', { mode: 0o600 });
    chownSync(tmp, pg.uid, pg.gid);
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.passfile);
  }

  removeSecrets(): void {
    rmSync(this.passfile, { force: true });
  }

  /** A fresh data directory's state: no source, no secret, no fence (Prepare starts from nothing). */
  reset(): void {
    this.removeSecrets();
    this.save({ source: null, fenced: false });
  }

  /** standby.signal in a data directory: its next start is as a standby. */
  writeStandbySignal(dataDir: string): void {
    const pg = this.pgUser();
    rmSync(path.join(dataDir, 'recovery.signal'), { force: true });
    const file = path.join(dataDir, 'standby.signal');
    writeFileSync(file, '', { mode: 0o600 });
    chownSync(file, pg.uid, pg.gid);
  }

  removeStandbySignal(dataDir: string): void {
    rmSync(path.join(dataDir, 'standby.signal'), { force: true });
  }
}

/** A followed source from a checked one (the password stays out). */
export function followed(s: CheckedSource): FollowedSource {
  return { host: s.host, port: s.port, user: s.user, slot: s.slot, instanceId: s.instanceId };
}
