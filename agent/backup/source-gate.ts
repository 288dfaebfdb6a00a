// Passes the source's bytes through, but ends only after the tool itself
// exited successfully: a backup whose tool failed at the very end must not
// be committed. The subprocess's exit status is part of the stream's success.
import { Transform, pipeline, type Readable } from 'node:stream';

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
