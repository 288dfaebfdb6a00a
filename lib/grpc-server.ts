// A grpc-js server with what every Coffer endpoint serves besides its own
// services: server reflection (from the same .proto files the code is
// generated from, so grpcurl and `buf curl` can call any method with JSON)
// and the standard grpc.health.v1 service.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import type protobuf from 'protobufjs';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { repoRoot } from './repo-root.js';

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
  const health = protoLoader.loadSync(path.relative(healthDir, healthProtoPath), { includeDirs: [healthDir] });
  const healthFiles = (health['grpc.health.v1.Health'] as unknown as { Check: { requestType: { fileDescriptorProtos: Buffer[] } } }).Check
    .requestType.fileDescriptorProtos;
  return {
    'coffer.descriptors': { fileDescriptorProtos: files },
    'grpc.health.descriptors': { fileDescriptorProtos: healthFiles.map(fixMapEntryNames) },
  } as unknown as protoLoader.PackageDefinition;
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
 * Builds a server with reflection over all of Coffer's protos and health,
 * lets `register` add the services, and binds.
 */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  tls: TlsFiles | null;
  register: (server: grpc.Server) => void;
}): Promise<CofferServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  new ReflectionService(reflectionPackage()).addToServer(server);
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  opts.register(server);
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
