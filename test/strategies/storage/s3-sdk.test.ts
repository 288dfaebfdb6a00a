// The AWS SDK is loaded only when an S3 store is built (strategies/storage/
// s3-sdk.ts): an agent without S3 must not carry its module heap. Checked in
// a fresh Node process on the built agent's own module graph, by whether the
// SDK's entry file is in the CommonJS module cache (an ESM import of the SDK
// loads it there too, so a static import anywhere would show).
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { REPO } from '../../support/agent.js';

const run = promisify(execFile);

const probe = (afterImport: string): string => `
import { createRequire } from 'node:module';
const require = createRequire(${JSON.stringify(path.join(REPO, 'package.json'))});
const entry = require.resolve('@aws-sdk/client-s3');
await import(${JSON.stringify(path.join(REPO, 'dist', 'agent', 'main.js'))});
${afterImport}
process.stdout.write(JSON.stringify({ loaded: entry in require.cache }));
`;

async function sdkLoaded(afterImport = ''): Promise<boolean> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe(afterImport)], { cwd: REPO });
  return (JSON.parse(stdout) as { loaded: boolean }).loaded;
}

t.test('the agent loads without the AWS SDK', async (t) => {
  t.equal(await sdkLoaded(), false, 'no @aws-sdk/client-s3 in the module cache after importing the agent');
});

t.test('building an S3 store loads the SDK', async (t) => {
  const build = `
const { createStorage } = await import(${JSON.stringify(path.join(REPO, 'dist', 'strategies', 'storage', 'registry.js'))});
createStorage({ storage: 's3', bucket: 'b', connection: { region: 'r', endpoint: 'http://127.0.0.1:9' } });`;
  t.equal(await sdkLoaded(build), true, 'the SDK is in the module cache once an S3 store exists');
});
