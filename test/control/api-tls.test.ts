// The public listeners over TLS (docs/tls.md), against one real control for
// the whole file: by default its REST bridge and gRPC API serve a
// certificate the deployment's API CA issues, and the coffer CLI
// (--ca-file, COFFER_CA_FILE), the OpenStack CLI (--os-cacert) and buf curl
// (--cacert) work with that CA and fail verification without it. Restarted
// with the operator's own pair, they serve that one; restarted without it,
// the issued one again (issued anew for changed names); restarted with
// --plaintext-loopback, a TLS client is told so. A non-loopback bind without
// TLS, and a bad pair, stop the control at start with a message.
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { hostname, networkInterfaces } from 'node:os';
import path from 'node:path';
import { agentEnv, REPO, tempBase, withoutTapLoaders } from '../support/agent.js';
import { CONTROL_BIN, startControl, type ControlHarness } from '../support/control.js';
import { openstack } from '../support/openstack/cli.js';
import { coffer, json } from '../cli/coffer-cli.js';
import { apiNames } from '../../control/api-tls.js';
import { compileControlConfig, ConfigError, type ControlOptions } from '../../control/config.js';

const BUF = path.join(REPO, 'node_modules', '.bin', 'buf');
const dir = tempBase('coffer-tls-');
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) =>
    execFile(cmd, args, { env: agentEnv(), timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    ),
  );
}

async function openssl(...args: string[]): Promise<void> {
  const r = await run('openssl', args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** An operator's own CA and a serving pair for 127.0.0.1 from it, as `openssl` makes them. */
async function operatorPair(): Promise<{ ca: string; caKey: string; cert: string; key: string }> {
  const f = (n: string) => path.join(dir, n);
  await openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('op-ca.key'), '-out', f('op-ca.crt'),
    '-subj', '/CN=Operator CA', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  await openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('op.key'), '-out', f('op.csr'), '-subj', '/CN=db.example.test');
  writeFileSync(f('op.ext'), 'subjectAltName = DNS:db.example.test,IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
  await openssl('x509', '-req', '-in', f('op.csr'), '-CA', f('op-ca.crt'), '-CAkey', f('op-ca.key'), '-set_serial', '7', '-days', '2', '-extfile', f('op.ext'), '-out', f('op.crt'));
  return { ca: f('op-ca.crt'), caKey: f('op-ca.key'), cert: f('op.crt'), key: f('op.key') };
}

/** `coffer-control serve` that must stop at start: its exit status and stderr. */
function refusedServe(...flags: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(...withoutTapLoaders([process.execPath, CONTROL_BIN, 'serve', '--data-dir', path.join(dir, 'refused'), '--no-metrics', ...flags]), { env: agentEnv(), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr };
}

/** GET over HTTPS verified with `ca` (for the name `servername`, else the address): the status, or the TLS error's code. */
function httpsGet(port: number, urlPath: string, ca: string, servername?: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: urlPath, ca: readFileSync(ca), ...(servername ? { servername } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

const listening = (h: ControlHarness) => JSON.parse(h.current!.logs.find((l) => l.includes('"msg":"listening"'))!) as { tls: boolean; caFile: string | null };

t.test('the issued certificate names every address a client may reach the control by', async (t) => {
  const loopbackOnly = apiNames([{ host: '127.0.0.1', port: 8779 }, { host: '127.0.0.1', port: 8780 }]);
  t.same(loopbackOnly.ips, ['127.0.0.1', '::1']);
  t.ok(loopbackOnly.dns.includes('localhost') && loopbackOnly.dns.includes('coffer-control'), 'localhost and the control\'s name');
  if (/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(hostname())) t.ok(loopbackOnly.dns.includes(hostname()), 'and the host\'s name');
  const v4 = Object.values(networkInterfaces()).flat().filter((a) => a?.family === 'IPv4').map((a) => a!.address);
  const wildcard = apiNames([{ host: '0.0.0.0', port: 8779 }]);
  for (const a of v4) t.ok(wildcard.ips.includes(a), `0.0.0.0 stands for ${a}`);
  t.notOk(wildcard.ips.some((a) => a.includes(':') && a !== '::1'), 'and for no IPv6 address');
  const named = apiNames([{ host: '192.0.2.7', port: 8779 }, { host: 'db.example.test', port: 8780 }], ['198.51.100.1', 'alias.example.test']);
  t.ok(named.ips.includes('192.0.2.7') && named.ips.includes('198.51.100.1'), 'a bind address and an --api-tls-name address');
  t.ok(named.dns.includes('db.example.test') && named.dns.includes('alias.example.test'), 'a bind name and an --api-tls-name name');
});

t.test('a non-loopback bind without TLS, and a bad operator pair, stop the control at start', async (t) => {
  // As an operator sees it: coffer-control exits 2 with the message.
  const r = refusedServe('--plaintext-loopback', '--rest', '0.0.0.0:0');
  t.equal(r.status, 2, '--rest 0.0.0.0 with --plaintext-loopback exits 2');
  t.match(r.stderr, /--rest 0\.0\.0\.0 is refused with --plaintext-loopback: API tokens would cross the network in clear/, 'it says why');
  t.match(r.stderr, /Drop --plaintext-loopback .*or give your own with --rest-tls-cert FILE --rest-tls-key FILE/, 'and how to give a certificate');
  // The same check, and the others, in-process (compileControlConfig is what serve runs first).
  const refused = (o: ControlOptions): string => {
    try {
      compileControlConfig({ dataDir: path.join(dir, 'refused'), ...o }, 'coffer-agent');
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    return 'accepted';
  };
  t.match(refused({ plaintextLoopback: true, grpc: '[::]:0' }), /^--grpc :: is refused with --plaintext-loopback: .*--grpc-tls-cert FILE --grpc-tls-key FILE$/, '--grpc too');
  t.equal(refused({ plaintextLoopback: true, grpc: '[::1]:0', rest: 'localhost:0' }), 'accepted', 'plaintext on loopback is accepted');
  const pair = await operatorPair();
  t.match(refused({ restTlsCert: pair.cert }), /--rest-tls-key is missing: --rest-tls-cert and --rest-tls-key go together/, 'a certificate without its key');
  t.match(refused({ grpcTlsCert: pair.cert, grpcTlsKey: pair.caKey }), /--grpc-tls-cert \S+op\.crt and --grpc-tls-key \S+op-ca\.key are not a key pair TLS can serve/, 'a key that is not the certificate\'s');
  t.match(refused({ restTlsCert: pair.key, restTlsKey: pair.key }), /--rest-tls-cert \S+op\.key is not a PEM certificate/, 'a key given as the certificate');
  t.match(refused({ restTlsCert: path.join(dir, 'none.crt'), restTlsKey: pair.key }), /--rest-tls-cert \S+none\.crt cannot be read: ENOENT/, 'a missing file');
  t.match(refused({ apiTlsName: ['no such name'] }), /--api-tls-name "no such name" is neither a DNS name/, 'a name that cannot be in a certificate');
  t.match(refused({ apiTlsName: ['a.example.test'], restTlsCert: pair.cert, restTlsKey: pair.key, grpcTlsCert: pair.cert, grpcTlsKey: pair.key }), /--api-tls-name names the certificate the API CA issues, which no listener serves here/, 'a name for a certificate no listener serves');
  t.match(refused({ plaintextLoopback: true, grpcTlsCert: pair.cert, grpcTlsKey: pair.key }), /--plaintext-loopback serves no TLS: it cannot be given with --grpc-tls-cert/, 'plaintext and a certificate together');
  t.equal(refused({ restTlsCert: pair.cert, restTlsKey: pair.key }), 'accepted', 'the operator\'s pair is accepted');

  // The coffer CLI refuses the same mistakes before sending anything.
  const env = { COFFER_TOKEN: 'coffer_x', COFFER_PLAINTEXT: '0' };
  const far = await coffer(['--plaintext', '--endpoint', '192.0.2.1:8780', 'instance', 'list'], { env });
  t.equal(far.code, 2, 'coffer --plaintext to a non-loopback endpoint is a usage error');
  t.match(far.stderr, /plaintext to 192\.0\.2\.1:8780 is refused: the token would cross the network in clear; drop --plaintext \(COFFER_PLAINTEXT\) and verify the control's TLS with --ca-file FILE/);
  const missing = await coffer(['--ca-file', path.join(dir, 'none.crt'), 'instance', 'list'], { env });
  t.equal(missing.code, 2);
  t.match(missing.stderr, /--ca-file \S+none\.crt cannot be read: ENOENT/, 'a CA file that is not there');
  const notCert = await coffer(['instance', 'list'], { env: { ...env, COFFER_CA_FILE: pair.key } });
  t.match(notCert.stderr, /COFFER_CA_FILE \S+op\.key is not a PEM certificate/, 'a CA file that is not a certificate');
  const both = await coffer(['--plaintext', 'instance', 'list'], { env: { ...env, COFFER_CA_FILE: pair.ca } });
  t.match(both.stderr, /--plaintext and COFFER_CA_FILE contradict each other/, 'plaintext and a CA together');
});

t.test('TLS by default, with the API CA; then the operator\'s own certificate', async (t) => {
  const control = await startControl(t, { tls: true, extraArgs: ['--no-metrics', '--api-tls-name', 'coffer.example.test'] });
  const token = control.token('shop');
  const ca = control.caFile!;
  t.equal(listening(control).caFile, ca, 'the control prints the CA file clients trust');
  t.equal(listening(control).tls, true);
  t.equal(statSync(ca).mode & 0o777, 0o644, 'the CA file is readable by clients');
  const env = { COFFER_ENDPOINT: control.address, COFFER_TOKEN: token };
  const headers = path.join(dir, 'auth-header');
  writeFileSync(headers, `Authorization: Bearer ${token}\n`, { mode: 0o600 });
  const bufList = (caFile: string | null) =>
    run(BUF, ['curl', '--protocol', 'grpc', ...(caFile ? ['--cacert', caFile] : []), '-H', `@${headers}`, '-d', '{}', `https://${control.address}/coffer.control.v1.InstanceService/ListInstances`]);

  // The coffer CLI: --ca-file, or COFFER_CA_FILE.
  const viaFlag = await coffer(['--ca-file', ca, 'datastore', 'list', '--json'], { env: { ...env, COFFER_PLAINTEXT: '0' } });
  t.equal(viaFlag.code, 0, viaFlag.stderr);
  t.ok(json<Array<{ name: string }>>(viaFlag).some((d) => d.name === 'mariadb'), 'coffer --ca-file lists the datastores over TLS');
  t.equal(viaFlag.stderr, '', 'and prints no warning');
  const viaEnv = await coffer(['instance', 'list', '--json'], { env: { ...env, COFFER_CA_FILE: ca } });
  t.equal(viaEnv.code, 0, viaEnv.stderr);
  t.same(json(viaEnv), [], 'COFFER_CA_FILE works the same (no instances yet)');
  const noCa = await coffer(['instance', 'list'], { env: { ...env, COFFER_PLAINTEXT: '0' } });
  t.equal(noCa.code, 7, 'without the CA the CLI fails');
  t.match(noCa.stderr, /cannot verify coffer-control's TLS certificate at 127\.0\.0\.1:\d+ \(.*\): pass the CA that issued it with --ca-file FILE or COFFER_CA_FILE/, 'with a message saying how to trust it');
  const plain = await coffer(['instance', 'list'], { env });
  t.equal(plain.code, 7, 'plaintext gRPC is not served');
  t.match(plain.stderr, /it serves TLS unless started with --plaintext-loopback/);
  const wrongCa = await coffer(['instance', 'list'], { env: { ...env, COFFER_CA_FILE: control.datastoreCa } });
  t.match(wrongCa.stderr, /cannot verify coffer-control's TLS certificate/, 'another of the deployment\'s CAs does not vouch for the API');

  // The OpenStack CLI over https.
  const os = openstack(control.restPort, 'shop', token, { https: true });
  const listed = await os.run('--os-cacert', ca, 'database', 'instance', 'list', '-f', 'json');
  t.equal(listed.code, 0, listed.stderr);
  t.same(JSON.parse(listed.stdout), [], 'openstack --os-cacert CA database instance list answers over https');
  const stores = await os.run('--os-cacert', ca, 'datastore', 'list', '-f', 'json');
  t.equal(stores.code, 0, stores.stderr);
  t.ok((JSON.parse(stores.stdout) as Array<{ Name: string }>).some((d) => d.Name === 'mariadb'), 'and lists the datastores');
  const osNoCa = await os.run('database', 'instance', 'list');
  t.not(osNoCa.code, 0, 'without the CA the OpenStack CLI fails');
  t.match(osNoCa.stderr, /CERTIFICATE_VERIFY_FAILED|certificate verify failed/i, 'on certificate verification');
  t.equal(await httpsGet(control.restPort, '/', ca), 200, 'the REST bridge answers https');
  t.equal(await httpsGet(control.restPort, '/', ca, 'coffer.example.test'), 200, 'the certificate carries the --api-tls-name too');
  t.match(await httpsGet(control.restPort, '/', ca, 'other.example.test'), /ERR_TLS_CERT_ALTNAME_INVALID/, 'and no name it was not given');
  const clear = await fetch(`http://127.0.0.1:${control.restPort}/`).then((r) => r.status, (err: Error) => err.message);
  t.type(clear, 'string', 'and serves nothing over plain http');

  // buf curl with --cacert.
  const called = await bufList(ca);
  t.equal(called.code, 0, called.stderr);
  t.same(JSON.parse(called.stdout), {}, 'buf curl --cacert CA calls ListInstances over TLS');
  // buf reports only "unavailable"; its -v trace names the cause.
  const bufNoCa = await run(BUF, ['curl', '-v', '--protocol', 'grpc', '--list-methods', `https://${control.address}`]);
  t.not(bufNoCa.code, 0, 'without the CA buf curl fails');
  t.match(bufNoCa.stderr, /certificate signed by unknown authority/, 'on the certificate');

  // The operator's own pair, for both listeners, on the same data dir.
  const pair = await operatorPair();
  await control.kill();
  // --api-tls-name names only the issued certificate, which no listener serves now (the control refuses it then).
  control.args = [...control.args.filter((a, i, all) => a !== '--api-tls-name' && all[i - 1] !== '--api-tls-name'), '--rest-tls-cert', pair.cert, '--rest-tls-key', pair.key, '--grpc-tls-cert', pair.cert, '--grpc-tls-key', pair.key];
  await control.start();
  t.equal(listening(control).caFile, null, 'no listener serves the issued certificate: no CA file is printed');
  const own = await coffer(['instance', 'list', '--json'], { env: { ...env, COFFER_CA_FILE: pair.ca } });
  t.equal(own.code, 0, own.stderr);
  t.same(json(own), [], 'the CLI verifies the operator\'s certificate with the operator\'s CA');
  const oldCa = await coffer(['instance', 'list'], { env: { ...env, COFFER_CA_FILE: ca } });
  t.match(oldCa.stderr, /cannot verify coffer-control's TLS certificate/, 'the API CA no longer vouches for it');
  const osOwn = await os.run('--os-cacert', pair.ca, 'database', 'instance', 'list', '-f', 'json');
  t.equal(osOwn.code, 0, osOwn.stderr);
  t.same(JSON.parse(osOwn.stdout), [], 'openstack --os-cacert with the operator\'s CA');
  t.match(await httpsGet(control.restPort, '/', ca), /^UNABLE_TO_/, 'the REST bridge serves the operator\'s pair');
  const bufOwn = await bufList(pair.ca);
  t.equal(bufOwn.code, 0, bufOwn.stderr);
  t.same(JSON.parse(bufOwn.stdout), {}, 'buf curl --cacert with the operator\'s CA');

  // Back to the issued certificate, now without --api-tls-name: it is issued anew for the names it has now.
  await control.kill();
  control.args = control.args.filter((a, i, all) => !/^--(rest|grpc)-tls-(cert|key)$/.test(a) && !/^--(rest|grpc)-tls-(cert|key)$/.test(all[i - 1] ?? ''));
  await control.start();
  t.equal(listening(control).caFile, ca, 'the CA file is printed again');
  t.equal(await httpsGet(control.restPort, '/', ca), 200, 'the API CA vouches for the REST bridge again');
  t.match(await httpsGet(control.restPort, '/', ca, 'coffer.example.test'), /ERR_TLS_CERT_ALTNAME_INVALID/, 'the certificate no longer names what it was not given this time');
  const again = await coffer(['instance', 'list', '--json'], { env: { ...env, COFFER_CA_FILE: ca } });
  t.same(json(again), [], 'the CLI with the same CA file');

  // --plaintext-loopback (as the rest of the suite runs): a TLS client is told what is wrong.
  await control.kill();
  control.args = [...control.args, '--plaintext-loopback'];
  await control.start();
  t.equal(listening(control).tls, false, 'plaintext on loopback');
  const tlsToPlain = await coffer(['instance', 'list'], { env: { ...env, COFFER_CA_FILE: ca } });
  t.equal(tlsToPlain.code, 7);
  t.match(tlsToPlain.stderr, /coffer-control at 127\.0\.0\.1:\d+ does not speak TLS: if it serves --plaintext-loopback, pass --plaintext/, 'a TLS client of a plaintext control is told so');
  const plainOk = await coffer(['--plaintext', 'instance', 'list', '--json'], { env: { ...env, COFFER_PLAINTEXT: '0' } });
  t.same(json(plainOk), [], 'and --plaintext works there');
});
