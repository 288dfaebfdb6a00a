// The MariaDB row of the archive core's per-datastore table
// (agent/archive/archive-datastore.ts): binlogs, named and ordered by their
// number, positions in GTIDs.
import type { ArchiveDatastore } from '../../../archive/archive-datastore.js';
import { binlogFollows, checkGtidPosition, compareBinlogNames, compareGtidPositions } from './binlog-positions.js';

export const BINLOG_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*\.\d{6,}$/;

export const binlogTable: ArchiveDatastore = Object.freeze({
  kind: 'binlog' as const,
  positionName: 'GTID',
  // A binlog's end is the GTID state after its last transaction.
  endInclusive: true,
  checkPosition: checkGtidPosition,
  comparePositions: compareGtidPositions,
  inSequence: (name: string) => BINLOG_NAME.test(name),
  compareNames: compareBinlogNames,
  follows: binlogFollows,
});
