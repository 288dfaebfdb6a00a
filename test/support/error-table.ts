// The checks every side's error table must pass (fastify's errors test
// shape): each key is the code of the error it builds, each code has one gRPC
// status and one HTTP status (the ones the caller sees, written out in the
// side's test so a change is deliberate), every kind the side maps names a
// code of that kind, and an unexpected failure leaks nothing.
import type { Test } from 'tap';
import { status as Status } from '@grpc/grpc-js';
import { CofferError, type ErrorKind } from '../../lib/coded-error.js';
import { ERROR_CODE_METADATA_KEY, type ErrorTableSpec, type TableError, type ToServiceError } from '../../lib/error-table.js';
import { createLogger } from '../../lib/logger.js';

export interface TableUnderTest<C extends string> {
  readonly spec: ErrorTableSpec<C>;
  readonly prefix: string;
  readonly build: (code: C, message: string) => TableError<C>;
  readonly toServiceError: ToServiceError;
  /** Each code's gRPC status name and HTTP status, as callers see them. */
  readonly statuses: Readonly<Record<C, readonly [keyof typeof Status, number]>>;
}

const silent = createLogger({ level: 'silent' });

/** What a caller sees of a thrown value: status, message and error code. */
export function seen(toServiceError: ToServiceError, err: unknown): { grpc: number | undefined; details: string | undefined; code: unknown } {
  const e = toServiceError(err, silent, 'Test');
  return { grpc: e.code, details: e.details, code: e.metadata?.get(ERROR_CODE_METADATA_KEY)[0] };
}

export function lockErrorTable<C extends string>(t: Test, u: TableUnderTest<C>): void {
  const { table, codeOfKind, internal } = u.spec;
  const codes = Object.keys(table) as C[];

  t.test('every code maps to exactly the gRPC and HTTP status callers see', async (t) => {
    t.same([...codes].sort(), Object.keys(u.statuses).sort(), 'the table and the expected statuses list the same codes');
    for (const code of codes) {
      const [grpcName, http] = u.statuses[code];
      t.equal(table[code].grpc, Status[grpcName], `${code} is gRPC ${grpcName}`);
      t.equal(table[code].http, http, `${code} is HTTP ${http}`);
      t.ok(Number.isInteger(table[code].http) && table[code].http >= 400 && table[code].http <= 599, `${code}: an HTTP error status`);
      t.not(table[code].grpc, Status.OK, `${code}: not OK`);
      t.ok(table[code].description.length > 0, `${code} says what it means`);
    }
  });

  t.test('each key is the code of the error it builds', async (t) => {
    for (const code of codes) {
      t.ok(code.startsWith(u.prefix), `${code} starts with ${u.prefix}`);
      const err = u.build(code, 'm');
      t.ok(err instanceof u.spec.errorClass && err instanceof CofferError, `${code} builds the side's error, a CofferError`);
      t.equal(err.code, code);
      t.equal(err.kind, table[code].kind);
      t.equal(err.grpcStatus, table[code].grpc);
      t.equal(err.httpStatus, table[code].http);
      t.same(seen(u.toServiceError, err), { grpc: table[code].grpc, details: 'm', code }, `${code} reaches the caller as itself`);
    }
  });

  t.test('every kind the side maps names a code of that kind', async (t) => {
    for (const [kind, code] of Object.entries(codeOfKind) as Array<[ErrorKind, C]>) {
      t.equal(table[code].kind, kind, `${kind} -> ${code}`);
      t.same(seen(u.toServiceError, new CofferError(kind, 'shared')), { grpc: table[code].grpc, details: 'shared', code }, `a CofferError of kind ${kind} reaches the caller as ${code}`);
    }
  });

  t.test('an unexpected failure is the internal code with a generic message', async (t) => {
    t.equal(table[internal].grpc, Status.INTERNAL);
    const generic = { grpc: Status.INTERNAL, details: `internal error in Test; see the ${u.spec.component} log`, code: internal };
    t.same(seen(u.toServiceError, new TypeError('password=hunter2')), generic);
    t.same(seen(u.toServiceError, 'a thrown string'), generic);
    const unmapped = (['UNAUTHENTICATED', 'PERMISSION_DENIED', 'UNAVAILABLE', 'DATASTORE'] as const).find((k) => codeOfKind[k] === undefined);
    if (unmapped) t.same(seen(u.toServiceError, new CofferError(unmapped, 'password=hunter2')), generic, `a kind without a code (${unmapped}) too`);
  });
}
