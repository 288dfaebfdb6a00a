// Boots an image by hand the way a compute driver would, and times it
// (docs/images.md): a config drive made with xorriso holding an agent
// config and certificates from a real control CA, a qcow2 overlay on the
// image, QEMU's restricted user network with the agent's port forwarded to
// a host loopback port, the serial console to a file. Reports power-on to
// "coffer-agent listening" on the console and to the first mutual-TLS
// Ping through the forwarded port, then powers the VM off.
//
//   TS_NODE_TRANSPILE_ONLY=1 node --import @tapjs/typescript/import images/boot-check.ts [--image FILE] [--wrong-instance] [--keep DIR]
//
// --wrong-instance puts another instance's certificate on the drive: the
// agent must refuse to start, with its line on the console.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials } from '@grpc/grpc-js';
import { CertificateAuthority } from '../control/ca/authority.js';
import { OpenSsl } from '../control/ca/openssl.js';
import { openDatabase } from '../control/db/database.js';
import { contentPath, GUEST_AGENT_CONFIG, GUEST_AGENT_PORT, GUEST_CONDUCTOR_ADDRESS, GUEST_CONDUCTOR_PORT, GUEST_BASE_DIR, GUEST_TLS_DIR, META_DATA_PATH } from '../lib/config-drive.js';
import { freePort } from '../lib/free-port.js';
import { createLogger } from '../lib/logger.js';
import { ProcessRunner } from '../lib/process-runner.js';
import { LifecycleServiceClient } from '../proto/gen/coffer/agent/v1/lifecycle.js';
import { ensureImage } from './build.js';

interface Args { image?: string; wrongInstance: boolean; keep?: string; timeoutSeconds: number }

function parse(argv: readonly string[]): Args {
  const a: Args = { wrongInstance: false, timeoutSeconds: 600 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--image') a.image = argv[++i];
    else if (argv[i] === '--wrong-instance') a.wrongInstance = true;
    else if (argv[i] === '--keep') a.keep = argv[++i];
    else if (argv[i] === '--timeout-seconds') a.timeoutSeconds = Number(argv[++i]);
    else throw new Error(`unknown option ${argv[i]}`);
  }
  return a;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  const log = createLogger({ name: 'boot-check', level: 'warn' });
  const runner = new ProcessRunner(log);
  const work = args.keep ?? mkdtempSync(path.join(os.tmpdir(), 'coffer-boot-check-'));
  mkdirSync(work, { recursive: true });
  const image = args.image ?? (await ensureImage({ datastore: 'mariadb', onLine: (l) => console.error(`image: ${l}`) }));

  // Certificates from a real control CA, as the control issues them.
  const db = openDatabase(path.join(work, 'control'));
  const ca = await CertificateAuthority.open(path.join(work, 'control'), new OpenSsl(runner), db, log);
  const id = randomUUID();
  const mine = await ca.issueInstance(id, path.join(work, 'certs', id));
  const presented = args.wrongInstance ? await ca.issueInstance(randomUUID(), path.join(work, 'certs', 'other')) : mine;

  // The config drive, as Nova lays it out.
  const drive = path.join(work, 'drive');
  mkdirSync(path.join(drive, 'openstack/latest'), { recursive: true });
  mkdirSync(path.join(drive, 'openstack/content'), { recursive: true });
  const tls = (name: string): string => `${GUEST_TLS_DIR}/${name}`;
  const agentConfig = {
    version: 1, instanceId: id, listen: `0.0.0.0:${GUEST_AGENT_PORT}`, datastore: 'mariadb', baseDir: GUEST_BASE_DIR,
    datastorePort: 3306, datastoreBind: '0.0.0.0', logLevel: 'info',
    tlsCert: tls('instance.crt'), tlsKey: tls('instance.key'), tlsCa: tls('ca.crt'),
    datastoreTlsCert: tls('datastore.crt'), datastoreTlsKey: tls('datastore.key'), datastoreTlsCa: tls('datastore-ca.crt'),
    controlEndpoint: `${GUEST_CONDUCTOR_ADDRESS}:${GUEST_CONDUCTOR_PORT}`, heartbeatSeconds: 10,
  };
  const entries: [string, Buffer][] = [
    [GUEST_AGENT_CONFIG, Buffer.from(JSON.stringify(agentConfig, null, 2))],
    [tls('instance.crt'), readFileSync(presented.cert)],
    [tls('instance.key'), readFileSync(presented.key)],
    [tls('ca.crt'), readFileSync(mine.ca)],
    [tls('datastore.crt'), readFileSync(mine.datastore.cert)],
    [tls('datastore.key'), readFileSync(mine.datastore.key)],
    [tls('datastore-ca.crt'), readFileSync(mine.datastoreCa)],
  ];
  const files = entries.map(([p, content], i) => {
    writeFileSync(path.join(drive, 'openstack', contentPath(i)), content);
    return { path: p, content_path: contentPath(i) };
  });
  writeFileSync(path.join(drive, META_DATA_PATH), JSON.stringify({ uuid: id, name: 'boot-check', hostname: 'boot-check', project_id: 'p', availability_zone: 'nova', meta: { coffer_format: '1' }, files }));
  const iso = path.join(work, 'config.iso');
  await runner.run(['xorriso', '-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'config-2', '-J', '-R', drive]);

  const overlay = path.join(work, 'root.qcow2');
  rmSync(overlay, { force: true });
  await runner.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', image, '-F', 'qcow2', overlay]);
  const port = await freePort();
  const console_ = path.join(work, 'console.log');
  rmSync(console_, { force: true });
  const accel = process.env.COFFER_QEMU_ACCEL ?? 'tcg';
  const started = Date.now();
  const vm = runner.spawn([
    'qemu-system-x86_64', '-accel', accel, '-m', '1024', '-smp', '2', '-nodefaults', '-display', 'none', '-no-user-config',
    '-serial', `file:${console_}`,
    '-drive', `file=${overlay},if=virtio,format=qcow2`,
    '-drive', `file=${iso},if=virtio,format=raw,readonly=on`,
    '-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:${GUEST_AGENT_PORT}`,
    '-device', 'virtio-net-pci,netdev=n0',
  ]);
  console.error(`boot-check: VM pid ${vm.pid}, accel ${accel}, console ${console_}, agent on 127.0.0.1:${port}`);
  const creds = credentials.createSsl(readFileSync(ca.controlCa.cert), readFileSync(ca.control.key), readFileSync(ca.control.cert), { checkServerIdentity: () => undefined });
  const client = new LifecycleServiceClient(`127.0.0.1:${port}`, creds);
  const consoleText = (): string => (existsSync(console_) ? readFileSync(console_, 'utf8') : '');
  let listeningAt = 0;
  let code = 1;
  try {
    const deadline = started + args.timeoutSeconds * 1000;
    while (Date.now() < deadline) {
      const text = consoleText();
      if (!listeningAt && text.includes('coffer-agent listening')) {
        listeningAt = Date.now();
        console.error(`boot-check: "coffer-agent listening" on the console after ${((listeningAt - started) / 1000).toFixed(1)} s`);
      }
      if (args.wrongInstance && /coffer-agent.*refusing to start/.test(text)) {
        console.error(`boot-check: the agent refused the certificate after ${((Date.now() - started) / 1000).toFixed(1)} s:\n${text.split('\n').filter((l) => l.includes('refusing to start')).join('\n')}`);
        code = 0;
        break;
      }
      if (listeningAt && !args.wrongInstance) {
        const pong = await new Promise<{ instanceId?: string } | null>((resolve) => {
          client.ping({}, (err, res) => resolve(err ? null : (res as { instanceId?: string })));
        });
        if (pong) {
          console.error(`boot-check: Ping over mutual TLS through the forwarded port answered by instance ${pong.instanceId} ${((Date.now() - started) / 1000).toFixed(1)} s after power-on`);
          code = pong.instanceId === id ? 0 : 1;
          break;
        }
      }
      await sleep(500);
    }
    if (code !== 0) console.error(`boot-check: FAILED; console tail:\n${consoleText().split('\n').slice(-40).join('\n')}`);
  } finally {
    client.close();
    await vm.stop(5000);
    db.close();
    if (!args.keep && code === 0) rmSync(work, { recursive: true, force: true });
  }
  return code;
}

main().then((c) => process.exit(c), (err) => {
  console.error(`boot-check: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
