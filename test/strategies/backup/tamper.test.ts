// A stored object that was altered, cut short, reordered or spliced must fail
// verification, and the restore must hand the destination zero bytes; the
// one-pass restore (physical backups, into staging) must fail with the same
// reason and never finish its destination.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { CofferError, type ErrorKind } from '../../../lib/coded-error.js';
import { keyIdOf, rewrapDataKey, unwrapDataKey } from '../../../strategies/backup/key-wrap.js';
import { runBackup, verifyObject, type BackupResult } from '../../../strategies/backup/pipeline.js';
import { restoreObject } from './fixtures/restore.js';
import { MemorySink, chunked, makeDeps, mixedData, parseFrames, sha256 } from './fixtures/streams.js';
import { ofKind } from '../../support/error-kind.js';

const wrappingKey = randomBytes(32);
const frameSize = 64 * 1024;
const deps = makeDeps();

async function backup(): Promise<{ stored: Buffer; result: BackupResult }> {
  const sink = new MemorySink();
  const result = await runBackup({ source: chunked(mixedData(1024 * 1024 + 999)), sink, wrappingKey, compression: 'zstd', frameSize }, deps);
  return { stored: sink.data, result };
}

const { stored, result } = await backup();
const { headerLength, frames } = parseFrames(stored);

/**
 * Restores `obj`, expecting failure, with the checksum recorded for the
 * original and with the checksum of the tampered object itself (someone
 * who could change the object and its metadata): frame authentication
 * alone must catch the latter.
 */
async function assertRejected(t: Test, obj: Buffer, kind: ErrorKind = 'INTEGRITY'): Promise<void> {
  for (const [which, checksum] of [
    ['recorded checksum', result.sha256],
    ['checksum of the tampered object', sha256(obj)],
  ] as const) {
    const out = new MemorySink();
    let opened = 0;
    await t.rejects(
      restoreObject(
        { open: () => (opened++, chunked(obj)), destination: out, wrappingKey, expected: { sha256: checksum, compression: 'zstd' } },
        deps,
      ),
      ofKind(kind),
      `restore fails (${which})`,
    );
    t.equal(out.bytes, 0, `zero bytes reached the destination (${which})`);
    t.ok(out.destroyed && !out.finished, `destination destroyed, not finished (${which})`);
    t.equal(opened, 1, `the object was not opened for a restore pass (${which})`);
    await t.rejects(verifyObject(chunked(obj), checksum, wrappingKey), ofKind(kind), `verifyObject fails (${which})`);
    // One pass (physical restores): bytes may reach the staging destination,
    // but it never finishes and the restore fails with the object's reason.
    const staged = new MemorySink();
    await t.rejects(
      restoreObject({ open: () => chunked(obj), destination: staged, wrappingKey, expected: { sha256: checksum, compression: 'zstd' }, verifyFirst: false }, deps),
      ofKind(kind),
      `one-pass restore fails (${which})`,
    );
    t.ok(!staged.finished, `one pass: the destination never finished (${which})`);
  }
}

t.test('the untouched object verifies', async (t) => {
  t.ok(frames.length >= 4, `several frames (${frames.length})`);
  const v = await verifyObject(chunked(stored), result.sha256, wrappingKey);
  t.equal(v.frames, frames.length);
  t.equal(v.storedBytes, stored.length);
  t.equal(v.keyId, keyIdOf(wrappingKey));
});

t.test('a flipped bit anywhere fails', async (t) => {
  const at = (name: string, offset: number) => {
    const obj = Buffer.from(stored);
    obj[offset]! ^= 0x01;
    return t.test(name, (t) => assertRejected(t, obj));
  };
  await at('in the header (frame size)', 14);
  await at('in the wrapped key', 40);
  await at('in the nonce prefix', 26);
  await at('in the first ciphertext', headerLength + 100);
  await at('in a middle tag', frames[2]!.offset + frames[2]!.total - 1);
  await at('in the final frame', frames.at(-1)!.offset + 5);
  await at('in a frame length word', frames[1]!.offset + 3);
});

t.test('a truncated object fails', async (t) => {
  await t.test('at a frame boundary (final frame missing)', (t) => assertRejected(t, stored.subarray(0, frames.at(-1)!.offset)));
  await t.test('at an earlier frame boundary', (t) => assertRejected(t, stored.subarray(0, frames[2]!.offset)));
  await t.test('mid-frame', (t) => assertRejected(t, stored.subarray(0, frames[1]!.offset + 1000)));
  await t.test('inside the header', (t) => assertRejected(t, stored.subarray(0, 20)));
  await t.test('to nothing', (t) => assertRejected(t, Buffer.alloc(0)));
});

t.test('two swapped frames fail', async (t) => {
  const [a, b] = [frames[1]!, frames[2]!];
  const obj = Buffer.concat([
    stored.subarray(0, a.offset),
    stored.subarray(b.offset, b.offset + b.total),
    stored.subarray(a.offset, a.offset + a.total),
    stored.subarray(b.offset + b.total),
  ]);
  t.equal(obj.length, stored.length);
  await assertRejected(t, obj);
});

t.test('a duplicated frame fails', async (t) => {
  const a = frames[1]!;
  const obj = Buffer.concat([stored.subarray(0, a.offset + a.total), stored.subarray(a.offset)]);
  await assertRejected(t, obj);
});

t.test('bytes after the final frame fail', async (t) => {
  await assertRejected(t, Buffer.concat([stored, Buffer.from('x')]));
});

t.test('a frame from another backup under the same wrapping key fails', async (t) => {
  const other = (await backup()).stored;
  const otherFrames = parseFrames(other).frames;
  const a = frames[1]!;
  const o = otherFrames[1]!;
  const obj = Buffer.concat([stored.subarray(0, a.offset), other.subarray(o.offset, o.offset + o.total), stored.subarray(a.offset + a.total)]);
  await assertRejected(t, obj);
});

t.test('a wrong wrapping key fails clearly, before the object is read', async (t) => {
  const wrongKey = randomBytes(32);
  const out = new MemorySink();
  let opened = 0;
  const err = await restoreObject(
    {
      open: () => (opened++, chunked(stored)),
      destination: out,
      wrappingKey: wrongKey,
      expected: { sha256: result.sha256, compression: 'zstd', keyId: result.encryption.keyId },
    },
    deps,
  ).catch((e: unknown) => e);
  t.type(err, CofferError);
  t.equal((err as CofferError).kind, 'INVALID_ARGUMENT');
  t.match((err as Error).message, result.encryption.keyId, 'the message names the backup key id');
  t.equal(opened, 0, 'the object was never opened');
  t.equal(out.bytes, 0);
  t.ok(out.destroyed);

  // Without the metadata's key id, the object's header names it: still a clear error.
  const err2 = await verifyObject(chunked(stored), result.sha256, wrongKey).catch((e: unknown) => e);
  t.equal((err2 as CofferError).kind, 'INVALID_ARGUMENT');
  t.match((err2 as Error).message, `does not match key id ${result.encryption.keyId}`);
});

t.test('an object that changes between the verify and restore passes releases nothing', async (t) => {
  const other = (await backup()).stored;
  const out = new MemorySink();
  let opened = 0;
  await t.rejects(
    restoreObject(
      {
        open: () => chunked(opened++ === 0 ? stored : other),
        destination: out,
        wrappingKey,
        expected: { sha256: result.sha256, compression: 'zstd' },
      },
      deps,
    ),
    ofKind('INTEGRITY'),
  );
  t.equal(out.bytes, 0);
});

t.test('a data key handed over rewrapped (a backup of a key the reader does not hold) decrypts; a wrong one releases nothing', async (t) => {
  const own = randomBytes(32);
  const headerKeyId = result.encryption.keyId;
  // What the control does for a backup of the deployment-wide key: the data key, wrapped again for the reader's key.
  const rewrapped = rewrapDataKey(result.encryption.wrappedKey, wrappingKey, headerKeyId, own);
  t.equal(rewrapped.keyId, keyIdOf(own), 'wrapped for the reader\'s key');
  const dataKey = { keyId: headerKeyId, key: unwrapDataKey(rewrapped.wrappedKey, own, rewrapped.keyId) };
  const v = await verifyObject(chunked(stored), result.sha256, own, { dataKey });
  t.equal(v.keyId, headerKeyId, 'the object verifies under its own header, with the handed key');
  const err = await verifyObject(chunked(stored), result.sha256, own, { dataKey: { keyId: headerKeyId, key: randomBytes(32) } }).catch((e: unknown) => e);
  t.equal((err as CofferError).kind, 'INTEGRITY', 'a wrong handed key fails frame 0');
  t.match((err as Error).message, /frame 0/);
});
