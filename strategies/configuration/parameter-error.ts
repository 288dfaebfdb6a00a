// The one refusal of a configuration value: a CofferError of kind
// INVALID_ARGUMENT (the agent answers INVALID_ARGUMENT) that also names the
// parameter, so the control can answer Trove's 422 naming it.
import { CofferError } from '../../lib/coded-error.js';

export class ParameterError extends CofferError {
  constructor(
    /** The parameter refused (as given, at most 64 characters). */
    readonly parameter: string,
    message: string,
  ) {
    super('INVALID_ARGUMENT', message);
    this.name = 'ParameterError';
  }
}
