// The AWS SDK's S3 client, loaded the first time an S3 store is built. A
// static import put its ~5 MB of module heap into every agent, S3 or not:
// more to mark in each of the full GCs a backup's buffer churn sets off
// (docs/performance.md), more resident memory at idle, and Node 20's
// "upgrade to node >= 22" notice from the SDK on every start. The package
// has no "exports" map, so import and require both load its CommonJS build:
// one module instance either way, which the tests' own clients share.
import { createRequire } from 'node:module';
import type * as S3Sdk from '@aws-sdk/client-s3';

const requireFromHere = createRequire(import.meta.url);
let sdk: typeof S3Sdk | undefined;

export function s3Sdk(): typeof S3Sdk {
  return (sdk ??= requireFromHere('@aws-sdk/client-s3') as typeof S3Sdk);
}

/** True once an S3 store (or anything else in this process) loaded the SDK through here. */
export function s3SdkLoaded(): boolean {
  return sdk !== undefined;
}
