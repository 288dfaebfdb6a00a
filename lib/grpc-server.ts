// A grpc-js server with what every Coffer endpoint serves besides its own
// services: server reflection (from the same .proto files the code is
// generated from, so grpcurl and `buf curl` can call any method with JSON)
// and the standard grpc.health.v1 service.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type protobuf from 'protobufjs';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { repoRoot } from './repo-root.js';

const require = createRequire(import.meta.url);
const protoRoot = (): string => path.join(repoRoot(), 'proto');

/**
 * The reflection service's view of the schema: the FileDescriptorSet that
 * `buf build` wrote (proto/gen/descriptors.binpb, committed, drift-checked
 * by make). Descriptors rebuilt by protobufjs name map entries wrongly
 * ("Values" instead of "ValuesEntry"), which strict clients such as
 * `buf curl` reject, so they are not used for our own files.
 */
function reflectionPackage(): protoLoader.PackageDefinition {
  const set = descriptor.FileDescriptorSet.decode(readFileSync(path.join(protoRoot(), 'gen', 'descriptors.binpb'))) as unknown as {
    file: protobuf.Message[];
  };
  const files = set.file.map((f) => Buffer.from(descriptor.FileDescriptorProto.encode(f).finish()));
  const healthDir = path.dirname(path.dirname(path.dirname(healthProtoPath)));
  const reflectionDir = path.join(path.dirname(require.resolve('@grpc/reflection')), '..', 'proto');
  return {
    'coffer.descriptors': { fileDescriptorProtos: files },
    'grpc.health.descriptors': { fileDescriptorProtos: protoFiles(healthDir, path.relative(healthDir, healthProtoPath)) },
    'grpc.reflection.descriptors': {
      fileDescriptorProtos: [...protoFiles(reflectionDir, 'grpc/reflection/v1/reflection.proto'), ...protoFiles(reflectionDir, 'grpc/reflection/v1alpha/reflection.proto')],
    },
  } as unknown as protoLoader.PackageDefinition;
}

/** The file descriptors of a .proto (and its imports) that protobufjs loads. */
function protoFiles(includeDir: string, file: string): Buffer[] {
  const pkg = protoLoader.loadSync(file, { includeDirs: [includeDir] });
  const withFiles = Object.values(pkg).find((d) => 'fileDescriptorProtos' in d) as { fileDescriptorProtos: Buffer[] } | undefined;
  if (!withFiles) throw new Error(`no descriptors in ${file}`);
  return withFiles.fileDescriptorProtos.map(fixMapEntryNames);
}

interface MessageDescriptor {
  name: string;
  field?: Array<{ typeName?: string }>;
  nestedType?: MessageDescriptor[];
  options?: { mapEntry?: boolean };
}

/** Renames protobufjs's map entry types ("Statuses") to the canonical "StatusesEntry". */
function fixMapEntryNames(bin: Buffer): Buffer {
  const file = descriptor.FileDescriptorProto.decode(bin) as unknown as { messageType: MessageDescriptor[] };
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
  return Buffer.from(descriptor.FileDescriptorProto.encode(file as unknown as protobuf.Message).finish());
}

/** The reflection service's own names (it serves v1 and v1alpha). */
const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

/**
 * Serves reflection now but builds its index on the first reflection call.
 * Building it (decoding and indexing the whole schema, twice: v1 and
 * v1alpha) cost every agent and control start ~0.3 s of CPU, for a service
 * only grpcurl and `buf curl` call. The services are registered with the
 * definitions the library itself adds (taken from an instance over an empty
 * schema); their handlers hand each call to the full instance's.
 */
function addReflectionOnFirstUse(server: grpc.Server, build: () => ReflectionService): void {
  const capture = (into: Map<string, grpc.UntypedServiceImplementation>, defs?: Map<string, grpc.ServiceDefinition>) => ({
    addService(def: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) {
      const name = Object.values(def)[0]!.path.split('/')[1]!;
      into.set(name, impl);
      defs?.set(name, def);
    },
  });
  const defs = new Map<string, grpc.ServiceDefinition>();
  new ReflectionService({}, { services: [] }).addToServer(capture(new Map(), defs));
  let full: Map<string, grpc.UntypedServiceImplementation> | null = null;
  const handlersOf = (name: string): grpc.UntypedServiceImplementation => {
    if (!full) {
      const built = new Map<string, grpc.UntypedServiceImplementation>();
      build().addToServer(capture(built));
      full = built;
    }
    return full.get(name)!;
  };
  for (const [name, def] of defs) {
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of Object.keys(def)) {
      handlers[method] = ((call: unknown, callback: unknown) => (handlersOf(name)[method] as Function)(call, callback)) as grpc.UntypedHandleCall;
    }
    server.addService(def, handlers);
  }
}

/** Records the full name of every service added to `server` from now on. */
function recordServices(server: grpc.Server): Set<string> {
  const served = new Set<string>();
  const add = server.addService.bind(server);
  server.addService = (service, implementation) => {
    for (const m of Object.values(service)) served.add(m.path.split('/')[1]!);
    add(service, implementation);
  };
  return served;
}

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** Mutual TLS: a client must present a certificate signed by `ca`. */
export function serverCredentials(tls: TlsFiles | null): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    readFileSync(tls.ca),
    [{ cert_chain: readFileSync(tls.cert), private_key: readFileSync(tls.key) }],
    true,
  );
}

export interface CofferServer {
  readonly server: grpc.Server;
  readonly health: HealthImplementation;
  readonly port: number;
  /** Graceful shutdown, forced after graceMs. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Builds a server with health, lets `register` add the services, adds
 * reflection over what it serves, and binds.
 */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  tls: TlsFiles | null;
  register: (server: grpc.Server) => void;
  /** Run around every call (the control's metrics count its API calls). */
  interceptors?: grpc.ServerInterceptor[];
}): Promise<CofferServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024, interceptors: opts.interceptors ?? [] });
  const served = recordServices(server);
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  opts.register(server);
  // Reflection lists what this server serves, not every service in the
  // schema: a client must not be offered a service that answers UNIMPLEMENTED.
  addReflectionOnFirstUse(server, () => new ReflectionService(reflectionPackage(), { services: [...served, ...REFLECTION_SERVICES] }));
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port}`, serverCredentials(opts.tls), (err, p) => (err ? reject(err) : resolve(p))),
  );
  health.setStatus('', 'SERVING');
  return {
    server,
    health,
    port,
    close: (graceMs = 5000) =>
      new Promise<void>((resolve) => {
        health.setStatus('', 'NOT_SERVING');
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
