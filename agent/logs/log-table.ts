// What a datastore manager tells the guest-log core about its logs: a small
// table (managers/<datastore>/logs.ts). The core (guest-logs.ts) does the
// rest the same way for every datastore.

/** Trove's two kinds: SYS logs are always on, USER logs are enabled on request. */
export type LogType = 'SYS' | 'USER';

export interface DatastoreLog {
  /** The name users give (error, general, slow_query, ...): [a-z_]+. */
  readonly name: string;
  readonly type: LogType;
  /** The file the datastore (or the supervisor, for its output) writes. */
  readonly file: string;
  /** USER logs: the overrides that turn the log on and off again. */
  readonly switch?: LogSwitch;
}

export interface LogSwitch {
  readonly on: Readonly<Record<string, string>>;
  readonly off: Readonly<Record<string, string>>;
  /** True when these overrides (normalised) have the log on. */
  isOn(overrides: Readonly<Record<string, string>>): boolean;
}

const TRUE = /^(on|true|yes|1)$/i;

/** A log a boolean parameter turns on. */
export function booleanSwitch(parameter: string): LogSwitch {
  return {
    on: { [parameter]: 'ON' },
    off: { [parameter]: 'OFF' },
    isOn: (o) => Object.hasOwn(o, parameter) && TRUE.test(o[parameter]!),
  };
}
