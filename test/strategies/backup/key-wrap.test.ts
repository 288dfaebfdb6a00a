import t from 'tap';
import { randomBytes } from 'node:crypto';
import { CofferError } from '../../../lib/coded-error.js';
import { createDataKey, keyIdOf, unwrapDataKey } from '../../../strategies/backup/key-wrap.js';
import { ofKind } from '../../support/error-kind.js';

t.test('a fresh data key per backup, wrapped, and unwrapped with the same wrapping key', async (t) => {
  const wrappingKey = randomBytes(32);
  const a = createDataKey(wrappingKey);
  const b = createDataKey(wrappingKey);
  t.equal(a.key.length, 32);
  t.equal(a.wrappedKey.length, 40);
  t.notSame(a.key, b.key, 'each backup gets its own key');
  t.notOk(a.wrappedKey.includes(a.key.subarray(0, 8)), 'the wrapped key does not contain the key');
  t.same(unwrapDataKey(a.wrappedKey, wrappingKey, a.keyId), a.key);
});

t.test('key id: a short, stable fingerprint that differs between keys', async (t) => {
  const k = randomBytes(32);
  t.match(keyIdOf(k), /^[0-9a-f]{16}$/);
  t.equal(keyIdOf(k), keyIdOf(Buffer.from(k)));
  t.not(keyIdOf(k), keyIdOf(randomBytes(32)));
  t.notOk(k.toString('hex').includes(keyIdOf(k)), 'not a piece of the key itself');
});

t.test('a wrong wrapping key is refused naming the key id', async (t) => {
  const { wrappedKey, keyId } = createDataKey(randomBytes(32));
  const wrong = randomBytes(32);
  t.throws(() => unwrapDataKey(wrappedKey, wrong, keyId), {
    kind: 'INVALID_ARGUMENT',
    message: new RegExp(`does not match key id ${keyId}`),
  });
});

t.test('a damaged wrapped key fails its integrity check', async (t) => {
  const wrappingKey = randomBytes(32);
  const { wrappedKey, keyId } = createDataKey(wrappingKey);
  const bad = Buffer.from(wrappedKey);
  bad[5]! ^= 0x80;
  t.throws(() => unwrapDataKey(bad, wrappingKey, keyId), ofKind('INTEGRITY'));
});

t.test('wrapping keys must be 32 bytes', async (t) => {
  t.throws(() => createDataKey(randomBytes(16)), CofferError);
  t.throws(() => keyIdOf(Buffer.alloc(0)), ofKind('INVALID_ARGUMENT'));
});
