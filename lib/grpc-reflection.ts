// gRPC server reflection (v1 and v1alpha), so grpcurl and `buf curl` can
// call any method with JSON, served from the same .proto files the code is
// generated from. Nothing of it loads until the first reflection call:
// @grpc/reflection, @grpc/proto-loader and protobufjs (and the schema's
// descriptors) were about 4 MB of every agent's and control's heap and took
// ~0.3 s of CPU at each start, for a service only those tools call
// (docs/performance.md). The two services are registered at start with
// definitions written here (their path and stream shape); the message
// codecs and the handlers are the library's, taken on first use.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type * as ProtoLoader from '@grpc/proto-loader';
import type * as Reflection from '@grpc/reflection';
import type protobuf from 'protobufjs';
import { repoRoot } from './repo-root.js';

const require = createRequire(import.meta.url);
const protoRoot = (): string => path.join(repoRoot(), 'proto');
const METHOD = 'ServerReflectionInfo';

/** The reflection service's own names (it serves v1 and v1alpha). */
export const REFLECTION_SERVICES: readonly string[] = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

interface Descriptor {
  FileDescriptorSet: { decode(b: Buffer): unknown };
  FileDescriptorProto: { decode(b: Buffer): unknown; encode(m: unknown): { finish(): Uint8Array } };
}

/**
 * The reflection service's view of the schema: the FileDescriptorSet that
 * `buf build` wrote (proto/gen/descriptors.binpb, committed, drift-checked
 * by make). Descriptors rebuilt by protobufjs name map entries wrongly
 * ("Values" instead of "ValuesEntry"), which strict clients such as
 * `buf curl` reject, so they are not used for our own files.
 */
function reflectionPackage(): ProtoLoader.PackageDefinition {
  const descriptor = require('protobufjs/ext/descriptor/index.js') as Descriptor;
  const set = descriptor.FileDescriptorSet.decode(readFileSync(path.join(protoRoot(), 'gen', 'descriptors.binpb'))) as { file: protobuf.Message[] };
  const files = set.file.map((f) => Buffer.from(descriptor.FileDescriptorProto.encode(f).finish()));
  // grpc-health-check's .proto, found without loading the package (which parses it on import).
  const healthProtoPath = path.join(path.dirname(require.resolve('grpc-health-check')), '..', '..', 'proto', 'health', 'v1', 'health.proto');
  const healthDir = path.dirname(path.dirname(path.dirname(healthProtoPath)));
  const reflectionDir = path.join(path.dirname(require.resolve('@grpc/reflection')), '..', 'proto');
  return {
    'coffer.descriptors': { fileDescriptorProtos: files },
    'grpc.health.descriptors': { fileDescriptorProtos: protoFiles(descriptor, healthDir, path.relative(healthDir, healthProtoPath)) },
    'grpc.reflection.descriptors': {
      fileDescriptorProtos: [
        ...protoFiles(descriptor, reflectionDir, 'grpc/reflection/v1/reflection.proto'),
        ...protoFiles(descriptor, reflectionDir, 'grpc/reflection/v1alpha/reflection.proto'),
      ],
    },
  } as unknown as ProtoLoader.PackageDefinition;
}

/** The file descriptors of a .proto (and its imports) that protobufjs loads. */
function protoFiles(descriptor: Descriptor, includeDir: string, file: string): Buffer[] {
  const protoLoader = require('@grpc/proto-loader') as typeof ProtoLoader;
  const pkg = protoLoader.loadSync(file, { includeDirs: [includeDir] });
  const withFiles = Object.values(pkg).find((d) => 'fileDescriptorProtos' in d) as { fileDescriptorProtos: Buffer[] } | undefined;
  if (!withFiles) throw new Error(`no descriptors in ${file}`);
  return withFiles.fileDescriptorProtos.map((b) => fixMapEntryNames(descriptor, b));
}

interface MessageDescriptor {
  name: string;
  field?: Array<{ typeName?: string }>;
  nestedType?: MessageDescriptor[];
  options?: { mapEntry?: boolean };
}

/** Renames protobufjs's map entry types ("Statuses") to the canonical "StatusesEntry". */
function fixMapEntryNames(descriptor: Descriptor, bin: Buffer): Buffer {
  const file = descriptor.FileDescriptorProto.decode(bin) as { messageType: MessageDescriptor[] };
  const visit = (m: MessageDescriptor): void => {
    for (const n of m.nestedType ?? []) {
      if (n.options?.mapEntry && !n.name.endsWith('Entry')) {
        const old = n.name;
        n.name = `${old}Entry`;
        for (const f of m.field ?? []) if (f.typeName === old) f.typeName = n.name;
      }
      visit(n);
    }
  };
  file.messageType.forEach(visit);
  return Buffer.from(descriptor.FileDescriptorProto.encode(file).finish());
}

interface Built {
  readonly defs: Map<string, grpc.ServiceDefinition>;
  readonly impls: Map<string, grpc.UntypedServiceImplementation>;
}

/**
 * Registers reflection on `server` over the services in `served` (read at
 * the first call, by then complete) and the reflection services themselves:
 * a client must not be offered a service that answers UNIMPLEMENTED.
 */
export function addReflectionOnFirstUse(server: Pick<grpc.Server, 'addService'>, served: ReadonlySet<string>): void {
  let built: Built | null = null;
  const build = (): Built => {
    if (built) return built;
    const { ReflectionService } = require('@grpc/reflection') as typeof Reflection;
    const defs = new Map<string, grpc.ServiceDefinition>();
    const impls = new Map<string, grpc.UntypedServiceImplementation>();
    new ReflectionService(reflectionPackage(), { services: [...new Set([...served, ...REFLECTION_SERVICES])] }).addToServer({
      addService(def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) {
        const name = Object.values(def)[0]!.path.split('/')[1]!;
        defs.set(name, def);
        impls.set(name, impl);
      },
    } as unknown as grpc.Server);
    return (built = { defs, impls });
  };
  for (const name of REFLECTION_SERVICES) {
    const real = (): grpc.MethodDefinition<unknown, unknown> => build().defs.get(name)![METHOD] as grpc.MethodDefinition<unknown, unknown>;
    const def: grpc.ServiceDefinition = {
      [METHOD]: {
        path: `/${name}/${METHOD}`,
        requestStream: true,
        responseStream: true,
        originalName: 'serverReflectionInfo',
        requestSerialize: (v: unknown) => real().requestSerialize(v),
        requestDeserialize: (b: Buffer) => real().requestDeserialize(b),
        responseSerialize: (v: unknown) => real().responseSerialize(v),
        responseDeserialize: (b: Buffer) => real().responseDeserialize(b),
      },
    };
    server.addService(def, {
      [METHOD]: ((call: unknown) => (build().impls.get(name)![METHOD] as (c: unknown) => void)(call)) as grpc.UntypedHandleCall,
    });
  }
}
