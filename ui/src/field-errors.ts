// The control names what is wrong in its message ("instance.volume.size must
// be ...", "flavor \"x\" is not known", "datastore version mariadb 9 is not
// known"): the form shows it next to the field it names, or above the form
// when it names none.
import { ApiError } from './api.js';
import { fill, h } from './dom.js';

/** Field name → the words in a message that point at it, most specific first. */
export type FieldPatterns = ReadonlyArray<readonly [field: string, pattern: RegExp]>;

export const INSTANCE_FIELDS: FieldPatterns = [
  ['version', /datastore[._ ]version|\bversion\b/i],
  ['datastore', /datastore/i],
  ['flavor', /flavor/i],
  ['volume', /volume/i],
  ['databases', /database/i],
  ['name', /\bname\b/i],
];

export const BACKUP_FIELDS: FieldPatterns = [['name', /\bname\b/i]];
export const DATABASE_FIELDS: FieldPatterns = [['name', /\bname\b|database/i]];
export const USER_FIELDS: FieldPatterns = [
  ['password', /password/i],
  ['host', /\bhost\b/i],
  ['name', /\bname\b|user/i],
];

export function fieldOf(message: string, patterns: FieldPatterns): string | null {
  for (const [field, re] of patterns) if (re.test(message)) return field;
  return null;
}

/** Clears the form's messages. */
export function clearErrors(form: HTMLFormElement): void {
  for (const el of form.querySelectorAll('.field-error, .form-error')) fill(el);
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

/** Shows an error beside its field (`.field-error[data-for=field]`), or in the form's `.form-error`. */
export function showError(form: HTMLFormElement, err: unknown, patterns: FieldPatterns): void {
  const message = err instanceof ApiError ? err.message : String((err as Error)?.message ?? err);
  const field = fieldOf(message, patterns);
  const slot = (field && form.querySelector(`.field-error[data-for="${field}"]`)) || form.querySelector('.form-error');
  if (!slot) return;
  fill(slot, h('span', { role: 'alert' }, message));
  if (field) form.querySelector(`[name="${field}"]`)?.setAttribute('aria-invalid', 'true');
}

/** A labelled input with its error slot. */
export function field(label: string, name: string, input: HTMLElement): HTMLElement {
  input.setAttribute('name', name);
  input.id = `f-${name}-${Math.random().toString(36).slice(2, 8)}`;
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, h('div', { class: 'field-error', 'data-for': name }));
}
