// Who is calling the service layer: the project a token acts for, and
// whether it is an admin token (which sees every project). Both transports
// (gRPC in control/api, REST in control/rest) authenticate first and hand
// the service functions one of these; the services never see a transport.
import type { Scope } from '../store/scope.js';

export type Caller = Scope;

/** A page request: at most `limit` items with ids after `marker`. */
export interface PageRequest {
  readonly limit: number;
  readonly marker: string;
}

export interface Page<T> {
  readonly items: T[];
  /** The id to pass as the next marker, or '' on the last page. */
  readonly nextMarker: string;
}

/** Fetches limit + 1 rows to learn whether another page follows. */
export function pageOf<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextMarker: rows.length > limit ? items.at(-1)!.id : '' };
}
