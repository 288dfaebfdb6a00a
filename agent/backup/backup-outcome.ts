// What a finished backup (CreateBackup or StreamBackup) tells whoever
// watches: /metrics counts them. Labels come from a fixed set only: a
// strategy the datastore does not have is "unknown", never the caller's text.
export interface BackupOutcome {
  readonly strategy: string;
  readonly type: 'full' | 'incremental';
  /** cancelled: the caller went away or the agent is stopping. */
  readonly result: 'success' | 'failure' | 'cancelled';
  readonly seconds: number;
  /** Bytes written to storage (or the stream); 0 unless it succeeded. */
  readonly storedBytes: number;
}

export type BackupObserver = (outcome: BackupOutcome) => void;
