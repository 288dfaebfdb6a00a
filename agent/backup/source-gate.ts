// Passes the source's bytes through, but ends only after the tool itself
// exited successfully: a backup whose tool failed at the very end must not
// be committed. The subprocess's exit status is part of the stream's success.
import { Transform, pipeline, type Readable } from 'node:stream';
import { ProgramOutput } from '../../lib/program-output.js';
import type { BackupSource } from '../managers/manager.js';

export function gateOnExit(done: Promise<unknown>): Transform {
  return new Transform({
    transform(chunk, _enc, cb) {
      cb(null, chunk);
    },
    flush(cb) {
      done.then(
        () => cb(),
        (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
      );
    },
  });
}

/**
 * The source's stream behind the gate, joined with stream.pipeline (not
 * .pipe(), which would not pass the source's error on): a tool that dies
 * midway fails the backup at once instead of leaving it waiting.
 */
export function gated(source: Readable, done: Promise<unknown>): Transform {
  const gate = gateOnExit(done);
  pipeline(source, gate, () => undefined);
  return gate;
}

/**
 * A source's stream, gated on its `done`. A ProgramOutput already ends only
 * on its completion (the tool's `done`), and stays a ProgramOutput so the
 * pipeline can hand the tool's stdout straight to zstd.
 */
export function gatedSource(source: BackupSource): Readable {
  return source.stream instanceof ProgramOutput ? source.stream : gated(source.stream, source.done);
}
