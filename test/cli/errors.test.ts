// What a person sees when something is wrong: a sentence naming the fix, a
// distinct exit status, and never a stack trace.
import t from 'tap';
import path from 'node:path';
import { startControl } from '../support/control.js';
import { freePort } from '../support/ports.js';
import { coffer, cliFor, secretFile, STACK } from './coffer-cli.js';

t.test('errors a person can act on', async (t) => {
  const control = await startControl(t);
  const token = control.token('errors');
  const cli = cliFor(control.address, token);

  const ok = await cli(['instance', 'list']);
  t.equal(ok.code, 0, ok.stderr);

  const wrong = await cli(['instance', 'list'], { env: { COFFER_TOKEN: 'not-a-real-token' } });
  t.equal(wrong.code, 4, 'a refused token exits 4');
  t.match(wrong.stderr, /^coffer: the token was refused by coffer-control at 127\.0\.0\.1:\d+ .*coffer-control token create --data-dir DIR --project NAME/m, 'says how to get a token');
  t.notMatch(wrong.stderr, STACK, 'no stack trace');

  const none = await coffer(['instance', 'list'], { env: { COFFER_ENDPOINT: control.address } });
  t.equal(none.code, 2, 'no token at all exits 2 before any call');
  t.match(none.stderr, /no token: set COFFER_TOKEN or pass --token-file FILE/);

  const onArgv = await cli(['instance', 'list', '--token', token]);
  t.equal(onArgv.code, 2, 'a token on argv is refused');
  t.match(onArgv.stderr, /--token is refused: .*COFFER_TOKEN or use --token-file FILE/);

  const file = secretFile(path.dirname(control.dataDir), 'token', token);
  const viaFile = await coffer(['--token-file', file, 'datastore', 'list'], { env: { COFFER_ENDPOINT: control.address } });
  t.equal(viaFile.code, 0, `--token-file works: ${viaFile.stderr}`);
  const missingFile = await coffer(['instance', 'list', '--token-file', '/nonexistent/token'], { env: { COFFER_ENDPOINT: control.address } });
  t.equal(missingFile.code, 2);
  t.match(missingFile.stderr, /cannot read --token-file \/nonexistent\/token: it does not exist/);

  const port = await freePort();
  const down = await cli(['instance', 'list', '--endpoint', `127.0.0.1:${port}`]);
  t.equal(down.code, 7, 'an unreachable control exits 7');
  t.match(down.stderr, new RegExp(`^coffer: cannot reach coffer-control at 127\\.0\\.0\\.1:${port}: is it running\\?`, 'm'));
  t.notMatch(down.stderr, STACK, 'no stack trace');

  const badEndpoint = await cli(['instance', 'list', '--endpoint', 'nowhere']);
  t.equal(badEndpoint.code, 2);
  t.match(badEndpoint.stderr, /--endpoint must be HOST:PORT/);

  const missing = await cli(['instance', 'show', '5f0c3a3e-7c1b-4c1e-9a59-3f1d2b3c4d5e']);
  t.equal(missing.code, 5, 'an unknown instance exits 5');
  t.match(missing.stderr, /instance 5f0c3a3e-7c1b-4c1e-9a59-3f1d2b3c4d5e does not exist/);

  const badName = await cli(['instance', 'create', '', '--no-wait']);
  t.equal(badName.code, 3, 'an empty name is refused by the control');
  t.match(badName.stderr, /name is required/);

  const badDatastore = await cli(['instance', 'create', 'x', '--datastore', 'oracle', '--no-wait']);
  t.equal(badDatastore.code, 3);
  t.match(badDatastore.stderr, /datastore "oracle" is not known/, 'an unknown datastore is named');

  const badSize = await cli(['instance', 'create', 'x', '--size', 'big']);
  t.equal(badSize.code, 2);
  t.match(badSize.stderr, /--size must be a whole number of GB/);

  const unknownOption = await cli(['instance', 'list', '--frobnicate']);
  t.equal(unknownOption.code, 2, 'an unknown option is a usage error');
  t.match(unknownOption.stderr, /unknown option '--frobnicate'/);

  for (const r of [wrong, none, onArgv, down, missing, badName, badDatastore, badSize]) t.notMatch(r.stderr, STACK);
  t.equal((await cli(['instance', 'list', '--json'])).stdout.trim(), '[]', 'nothing was created by the refused requests');
});
