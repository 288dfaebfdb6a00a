// Trove-style pagination limits, shared by databases and users.
import type { Page } from '../../../proto/gen/coffer/agent/v1/common.js';
import { invalid } from '../../errors.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

export function pageLimit(page: Page | undefined): number {
  const limit = page?.limit ?? 0;
  if (limit < 0) throw invalid(`limit must be positive, got ${limit}`);
  if (limit > MAX_LIMIT) throw invalid(`limit must be at most ${MAX_LIMIT}, got ${limit}`);
  return limit === 0 ? DEFAULT_LIMIT : limit;
}
