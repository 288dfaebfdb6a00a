// The image's first-boot reader against real config drives: ISO 9660
// volumes labelled config-2 made with xorriso the way Nova lays them out,
// read by the program itself (with xorriso, as in the image), written into a scratch root. One
// good drive, then hostile ones, each refused with a message naming what is
// wrong and leaving the first drive's files as they were.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { contentPath, META_DATA_PATH, GUEST_AGENT_CONFIG, GUEST_TLS_DIR } from '../../../lib/config-drive.js';
import { repoRoot } from '../../../lib/repo-root.js';
import { firstboot } from '../../../agent/firstboot/main.js';

const PROGRAM = path.join(repoRoot(), 'dist/agent/firstboot/main.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'coffer-firstboot-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const guestRoot = path.join(work, 'root');
mkdirSync(guestRoot);

interface Entry { path: string; content?: string; symlinkTo?: string; contentPath?: string }
let isoCount = 0;

/** A config drive as Nova writes one: openstack/latest/meta_data.json and openstack/content/NNNN. */
function drive(entries: Entry[], metaText?: string): string {
  const dir = path.join(work, `drive-${isoCount}`);
  mkdirSync(path.join(dir, 'openstack/latest'), { recursive: true });
  mkdirSync(path.join(dir, 'openstack/content'), { recursive: true });
  const files = entries.map((e, i) => {
    const cp = contentPath(i);
    const file = path.join(dir, 'openstack', cp);
    if (e.symlinkTo) symlinkSync(e.symlinkTo, file);
    else if (e.content !== undefined) writeFileSync(file, e.content);
    return { path: e.path, content_path: e.contentPath ?? cp };
  });
  const meta = { uuid: 'a0b1c2d3-0000-4000-8000-000000000001', name: 'db1', hostname: 'db1', project_id: 'p1', availability_zone: 'nova', meta: { coffer_format: '1' }, files };
  writeFileSync(path.join(dir, META_DATA_PATH), metaText ?? JSON.stringify(meta));
  const iso = path.join(work, `drive-${isoCount++}.iso`);
  const r = spawnSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'config-2', '-J', '-R', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`xorriso: ${r.stderr}`);
  return iso;
}

/** The compiled program, as the image's unit runs it. */
function program(iso: string): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [PROGRAM, '--device', iso, '--root', guestRoot, '--work-dir', work], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
}

/** The same code in this process (a node start per hostile drive would cost seconds each). */
async function run(iso: string, opts: { label?: string; waitSeconds?: number } = {}): Promise<{ code: number; stderr: string }> {
  const lines: string[] = [];
  const code = await firstboot(
    { label: opts.label ?? 'config-2', device: opts.label ? undefined : iso, root: guestRoot, workDir: work, waitSeconds: opts.waitSeconds ?? 0 },
    (l) => lines.push(l),
  );
  return { code, stderr: lines.join('\n') };
}

const at = (p: string): string => path.join(guestRoot, p);
const mode = (p: string): string => (lstatSync(at(p)).mode & 0o777).toString(8);
/** Every file under the guest's /etc/coffer with its content. */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(guestRoot, p)] = readFileSync(p, 'utf8');
    }
  };
  if (existsSync(at('etc'))) walk(at('etc'));
  return out;
}

const AGENT_JSON = JSON.stringify({ version: 1, instanceId: 'a0b1c2d3-0000-4000-8000-000000000001' });

t.test('a good drive: every listed file written root-owned 0600 under 0700 directories, the drive\'s copy removed', async (t) => {
  const r = program(drive([
    { path: GUEST_AGENT_CONFIG, content: AGENT_JSON },
    { path: `${GUEST_TLS_DIR}/instance.crt`, content: 'CERT' },
    { path: `${GUEST_TLS_DIR}/instance.key`, content: 'KEY' },
  ]));
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /wrote 3 files/);
  t.same(snapshot(), { 'etc/coffer/agent.json': AGENT_JSON, 'etc/coffer/tls/instance.crt': 'CERT', 'etc/coffer/tls/instance.key': 'KEY' });
  t.equal(mode('etc/coffer/agent.json'), '600');
  t.equal(mode('etc/coffer/tls/instance.key'), '600');
  t.equal(mode('etc/coffer'), '700');
  t.equal(mode('etc/coffer/tls'), '700');
  t.equal(lstatSync(at('etc/coffer/tls/instance.key')).uid, 0, 'root-owned');
  t.same(readdirSync(work).filter((n) => n.startsWith('coffer-config-drive-')), [], 'the copy of the drive is gone afterwards');
});

t.test('hostile drives are refused by name and nothing is half-written', async (t) => {
  const before = snapshot();
  const good = { path: GUEST_AGENT_CONFIG, content: '{"version":1,"instanceId":"other"}' };
  const cases: [string, string, RegExp][] = [
    ['a path outside /etc/coffer', drive([good, { path: '/etc/passwd', content: 'root::0:0::/:/bin/sh' }]), /files\[1\]\.path "\/etc\/passwd" is not a plain absolute path under \/etc\/coffer/],
    ['a path climbing out with ..', drive([good, { path: '/etc/coffer/../shadow', content: 'x' }]), /files\[1\]\.path "\/etc\/coffer\/\.\.\/shadow"/],
    ['a missing content file', drive([good, { path: `${GUEST_TLS_DIR}/ca.crt` }]), /files\[1\]: its content openstack\/content\/0001 .* is missing from the drive/],
    ['a content file that is a symbolic link', drive([good, { path: `${GUEST_TLS_DIR}/ca.crt`, symlinkTo: '/etc/hostname' }]), /files\[1\]: its content openstack\/content\/0001 is not a regular file/],
    ['a content_path outside openstack/content', drive([good, { path: `${GUEST_TLS_DIR}/ca.crt`, content: 'x', contentPath: '/../latest/meta_data.json' }]), /files\[1\]\.content_path .* is not of the form \/content\/NNNN/],
    ['meta_data.json that is not JSON', drive([], '{"uuid": "x", "files": ['), /meta_data\.json is not valid JSON/],
    ['no agent config listed', drive([{ path: `${GUEST_TLS_DIR}/ca.crt`, content: 'x' }]), /lists no \/etc\/coffer\/agent\.json/],
  ];
  for (const [name, iso, message] of cases) {
    const r = await run(iso);
    t.equal(r.code, 1, `${name}: refused`);
    t.match(r.stderr, /refused the config drive, nothing was written/, `${name}: says so`);
    t.match(r.stderr, message, `${name}: names what is wrong`);
    t.same(snapshot(), before, `${name}: the guest's files are as they were`);
  }
});

t.test('no drive at all: a clear message after the wait', async (t) => {
  const r = await run('', { label: 'coffer-no-such-label' });
  t.equal(r.code, 1);
  t.match(r.stderr, /no config drive labelled coffer-no-such-label appeared within 0 s/);
});

t.test('a volume with another label is not taken for the config drive', async (t) => {
  const dir = path.join(work, 'other-label');
  mkdirSync(path.join(dir, 'openstack/latest'), { recursive: true });
  writeFileSync(path.join(dir, META_DATA_PATH), '{}');
  const iso = path.join(work, 'other-label.iso');
  spawnSync('xorriso', ['-as', 'mkisofs', '-quiet', '-o', iso, '-V', 'cidata', '-J', '-R', dir]);
  const r = await run(iso);
  t.equal(r.code, 1);
  t.match(r.stderr, /cannot read .*other-label\.iso as a config drive labelled config-2: .*Volume id does not match/);
});
