// The configuration capability, once for every datastore: overrides are
// normalised against the version's rule table (rules.ts), applied to the
// running server where it takes them live, then persisted (the rendered
// config file and the agent's overrides store). If persisting fails, the
// live change is taken back, so the running server and the files never
// disagree. What "apply live", "take back", "render the config file" and
// "needs a restart" mean is the datastore's ConfigurationApplier.
import type { Logger } from '../../../lib/logger.js';
import type { ParameterChange } from '../../../proto/gen/coffer/agent/v1/configuration.js';
import { AgentError } from '../../errors.js';
import type { ConfigurationCapability } from '../manager.js';
import { isParameter, normalizeOverrides, ruleOf, toParameters, type RuleSet } from '../../../strategies/configuration/rules.js';

/** One parameter a change touches. */
export interface LiveChange {
  readonly name: string;
  /** The new (normalised) value; undefined: back to the value without an override. */
  readonly value: string | undefined;
  /** The override in force before; undefined: there was none. */
  readonly previous: string | undefined;
}

/** Takes a live change back. */
export type Undo = () => Promise<void>;

export interface ConfigurationApplier {
  /** The running server's values of these parameters. */
  current(names: readonly string[]): Promise<Record<string, string>>;
  /**
   * Makes the changes on the running server, as far as it takes them live:
   * all or none (if the server refuses one, those already made are taken
   * back before this throws). Resolves with what takes them all back.
   */
  applyLive(changes: readonly LiveChange[]): Promise<Undo>;
  /** Renders and writes the config file for these (normalised) overrides. */
  writeConfig(overrides: Readonly<Record<string, string>>): Promise<void>;
  /** Which of these only a restart brings into force. Without it: those the rule table says are not dynamic. */
  restartRequired?(names: readonly string[]): Promise<ReadonlySet<string>>;
  /** Runs once a change is persisted (PostgreSQL reloads its configuration here). */
  afterPersist?(): Promise<void>;
}

/** Where the overrides in force are kept (agent/overrides-store.ts). */
export interface OverridesKeeper {
  get(): Record<string, string>;
  set(values: Readonly<Record<string, string>>): void;
}

export interface ConfigurationDeps {
  readonly rules: RuleSet;
  readonly store: OverridesKeeper;
  readonly applier: ConfigurationApplier;
  readonly log: Logger;
}

export type UpdateResult = { changes: ParameterChange[]; restartRequired: boolean };

const own = (o: Readonly<Record<string, string>>, name: string): string | undefined => (Object.hasOwn(o, name) ? o[name] : undefined);

export class Configuration implements ConfigurationCapability {
  private readonly rules: RuleSet;
  private readonly store: OverridesKeeper;
  private readonly applier: ConfigurationApplier;
  private readonly log: Logger;
  /** Changes run one at a time: each reads the overrides the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(deps: ConfigurationDeps) {
    ({ rules: this.rules, store: this.store, applier: this.applier, log: this.log } = deps);
  }

  /** The normalised overrides; throws INVALID_ARGUMENT naming the first bad one. */
  normalize(overrides: Readonly<Record<string, string>>): Record<string, string> {
    return normalizeOverrides(this.rules, overrides);
  }

  validate(overrides: Readonly<Record<string, string>>): void {
    this.normalize(overrides);
  }

  parameters() {
    return toParameters(this.rules);
  }

  overrides(): Record<string, string> {
    return this.store.get();
  }

  current(): Promise<Record<string, string>> {
    return this.applier.current(Object.keys(this.rules.parameters));
  }

  /** Renders the config file for a datastore that is not running yet (Prepare) and keeps the overrides. */
  async persist(overrides: Readonly<Record<string, string>>): Promise<void> {
    const normalized = this.normalize(overrides);
    await this.serially(async () => {
      await this.applier.writeConfig(normalized);
      this.store.set(normalized);
    });
  }

  update(overrides: Readonly<Record<string, string>>, replace: boolean): Promise<UpdateResult> {
    const set = this.normalize(overrides);
    return this.serially(() => {
      const old = this.store.get();
      const next = replace ? { ...set } : { ...old, ...set };
      const unset = replace ? Object.keys(old).filter((n) => own(set, n) === undefined && isParameter(this.rules, n)) : [];
      return this.apply(old, next, set, unset);
    });
  }

  reset(): Promise<UpdateResult> {
    return this.serially(() => {
      const old = this.store.get();
      return this.apply(old, {}, {}, Object.keys(old).filter((n) => isParameter(this.rules, n)));
    });
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** `set` are new values, `unset` go back to the value without an override; `next` is what is kept. */
  private async apply(old: Record<string, string>, next: Record<string, string>, set: Record<string, string>, unset: readonly string[]): Promise<UpdateResult> {
    const names = [...Object.keys(set), ...unset];
    const restart = await this.restartRequired(names);
    const undo = await this.applier.applyLive(names.map((name) => ({ name, value: own(set, name), previous: own(old, name) })));
    let written = false;
    try {
      await this.applier.writeConfig(next);
      written = true;
      this.store.set(next);
    } catch (err) {
      await this.takeBack(undo, written ? old : undefined);
      throw new AgentError('AGENT_ERR_INTERNAL', 'the configuration could not be saved; the change was taken back and nothing changed', { cause: err });
    }
    await this.applier.afterPersist?.();
    const changes: ParameterChange[] = names.map((name) => {
      const later = restart.has(name);
      return { name, value: own(set, name) ?? '', appliedLive: !later, restartRequired: later };
    });
    return { changes, restartRequired: changes.some((c) => c.restartRequired) };
  }

  private async restartRequired(names: readonly string[]): Promise<ReadonlySet<string>> {
    if (this.applier.restartRequired) return this.applier.restartRequired(names);
    return new Set(names.filter((n) => !ruleOf(this.rules, n)?.dynamic));
  }

  /** Best effort: a failure here is logged, the caller reports the first one. */
  private async takeBack(undo: Undo, rewrite: Record<string, string> | undefined): Promise<void> {
    try {
      await undo();
    } catch (err) {
      this.log.error({ err }, 'could not take a live configuration change back');
    }
    if (!rewrite) return;
    try {
      await this.applier.writeConfig(rewrite);
    } catch (err) {
      this.log.error({ err }, 'could not render the config file again with the previous overrides');
    }
  }
}
