// A TailLog stream read into an array, for the guest-log tests.
import { LogServiceClient, type TailLogResponse } from '../../../proto/gen/coffer/agent/v1/logs.js';

export interface Following {
  readonly lines: string[];
  readonly ended: Promise<unknown>;
  cancel(): void;
}

export function follow(client: LogServiceClient, name: string, lines = 0): Following {
  const got: string[] = [];
  const stream = client.tailLog({ name, lines, follow: true });
  stream.on('data', (m: TailLogResponse) => got.push(...m.lines));
  const ended = new Promise((resolve) => {
    stream.on('error', resolve);
    stream.on('end', resolve);
  });
  return { lines: got, ended, cancel: () => stream.cancel() };
}
