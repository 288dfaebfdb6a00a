// The units in systemd/: `systemd-analyze verify` finds nothing to say
// about any of them (an unknown or misspelt key, a bad value, a missing
// program all print), and each carries the hardening and the stop
// behaviour issue 14 asks for. verify runs against a scratch root holding
// systemd's own units and the programs the units start, at the paths the
// image builder installs them (images/build.ts) or a host has them; a unit
// naming any other program fails.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../lib/repo-root.js';
import { GUEST_AGENT_DIR, GUEST_NODE_DIR, GUEST_UNITS } from '../../images/build.js';
import { AGENT_LAYERS } from '../../images/agent-bundle.js';
import { AGENT_NODE_FLAGS } from '../../lib/agent-node-flags.js';

const UNIT_DIR = path.join(repoRoot(), 'systemd');
const UNITS = readdirSync(UNIT_DIR).filter((f) => f.endsWith('.service')).sort();
/** Programs the units may start: the image's Node and a host's (docs/systemd.md). */
const PROGRAMS = [`${GUEST_NODE_DIR}/bin/node`, '/usr/bin/node'];

const root = mkdtempSync(path.join(os.tmpdir(), 'coffer-units-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
cpSync('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
for (const p of PROGRAMS) {
  mkdirSync(path.join(root, path.dirname(p)), { recursive: true });
  copyFileSync('/bin/true', path.join(root, p));
  chmodSync(path.join(root, p), 0o755);
}

/** verify's exit status and everything it printed, for units with these texts. */
function verify(units: Record<string, string>): { status: number | null; output: string } {
  for (const [name, text] of Object.entries(units)) writeFileSync(path.join(root, 'etc/systemd/system', name), text);
  const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...Object.keys(units)], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

const text = (unit: string): string => readFileSync(path.join(UNIT_DIR, unit), 'utf8');

/** The unit's settings as section.key -> values (comments and blank lines dropped). */
function settings(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text(unit).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const i = line.indexOf('=');
    const key = `${section}.${line.slice(0, i)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(i + 1)]);
  }
  return out;
}

t.test('systemd-analyze verify has nothing to say about any unit', async (t) => {
  t.same(UNITS, ['coffer-agent.service', 'coffer-config-drive.service', 'coffer-control.service']);
  const r = verify(Object.fromEntries(UNITS.map((u) => [u, text(u)])));
  t.equal(r.output, '', 'no warnings');
  t.equal(r.status, 0);
});

t.test('verify is not a formality: a misspelt key and a missing program are reported', async (t) => {
  const agent = text('coffer-agent.service');
  const misspelt = verify({ 'coffer-agent.service': agent.replace('ProtectSystem=strict', 'ProtectSytem=strict') });
  t.match(misspelt.output, /Unknown key (name )?'ProtectSytem'/);
  const missing = verify({ 'coffer-agent.service': agent.replace(`${GUEST_NODE_DIR}/bin/node`, '/opt/coffer/nodejs/bin/node') });
  t.match(missing.output, /\/opt\/coffer\/nodejs\/bin\/node is not executable/);
  t.not(missing.status, 0);
  verify({ 'coffer-agent.service': agent });
});

t.test('hardening, restarts and stopping', async (t) => {
  for (const unit of UNITS) {
    const s = settings(unit);
    const one = (k: string): string | undefined => s.get(k)?.at(-1);
    t.equal(one('Service.NoNewPrivileges'), 'yes', `${unit}: NoNewPrivileges`);
    t.equal(one('Service.ProtectSystem'), 'strict', `${unit}: ProtectSystem`);
    t.equal(one('Service.ProtectHome'), 'yes', `${unit}: ProtectHome`);
    t.equal(one('Service.PrivateTmp'), 'yes', `${unit}: PrivateTmp`);
    t.ok(one('Service.ReadWritePaths'), `${unit}: ReadWritePaths names what it writes`);
  }
  const agent = settings('coffer-agent.service');
  const control = settings('coffer-control.service');
  const drive = settings('coffer-config-drive.service');
  t.same(agent.get('Service.ReadWritePaths'), ['/var/lib/coffer'], 'the agent writes its base dir only');
  t.same(control.get('Service.ReadWritePaths'), ['/var/lib/coffer-control'], 'the control writes its data dir only');
  t.same(drive.get('Service.ReadWritePaths'), ['/etc/coffer'], 'the first-boot unit writes /etc/coffer only');
  for (const [name, s] of [['agent', agent], ['control', control]] as const) {
    t.equal(s.get('Service.Restart')?.[0], 'on-failure', `${name}: restarted on failure`);
    t.ok(Number(s.get('Unit.StartLimitBurst')?.[0]) > 0 && Number(s.get('Unit.StartLimitIntervalSec')?.[0]) > 0, `${name}: with a start limit`);
    t.equal(s.get('Service.RestartPreventExitStatus')?.[0], '2', `${name}: not restarted on a refused configuration`);
  }
  t.equal(control.get('Service.User')?.[0], 'coffer', 'the control runs as its own user');
  t.equal(agent.get('Service.KillMode')?.[0], 'mixed', 'the agent alone gets SIGTERM and stops its datastore');
  t.ok(Number(agent.get('Service.TimeoutStopSec')?.[0]) > 90, 'after the agent\'s own 90 s shutdown deadline');
  t.equal(control.get('Service.KillMode')?.[0], 'process', 'a control restart leaves its instances running');
  t.match(agent.get('Service.StandardOutput')?.[0], /console/, 'the agent\'s log reaches the serial console');
  t.match(drive.get('Service.StandardOutput')?.[0], /console/, 'so does the first-boot unit\'s');
  t.match(drive.get('Unit.Before')?.join(' '), /coffer-agent\.service/, 'the drive is read before the agent starts');
  t.match(agent.get('Unit.Requires')?.join(' '), /coffer-config-drive\.service/, 'and the agent needs it');
});

t.test('the guest units start programs the image installs', async (t) => {
  // stageAgent copies bin/coffer-agent and dist/<layer> for AGENT_LAYERS (test/images/agent-bundle.test.ts runs it).
  t.same([...GUEST_UNITS].sort(), ['coffer-agent.service', 'coffer-config-drive.service']);
  for (const unit of GUEST_UNITS) {
    for (const exec of settings(unit).get('Service.ExecStart') ?? []) {
      for (const arg of exec.split(/\s+/).filter((a) => a.startsWith(`${GUEST_AGENT_DIR}/`))) {
        const rel = path.posix.relative(GUEST_AGENT_DIR, arg);
        const staged = rel === 'bin/coffer-agent' || AGENT_LAYERS.some((l) => rel.startsWith(`dist/${l}/`));
        t.ok(staged && existsSync(path.join(repoRoot(), rel)), `${unit}: ${arg} is in the image`);
      }
    }
  }
});

t.test("the agent's unit starts node with the agent's flags", async (t) => {
  // ExecStart names node, so bin/coffer-agent's shebang is not read: without
  // the flags here a VM's agent ran without --expose-gc (no idle
  // collection) and the heap bounds (docs/performance.md, "A lean agent").
  const exec = settings('coffer-agent.service').get('Service.ExecStart')?.[0]?.split(/\s+/) ?? [];
  t.same(exec.slice(0, AGENT_NODE_FLAGS.length + 2), [`${GUEST_NODE_DIR}/bin/node`, ...AGENT_NODE_FLAGS, `${GUEST_AGENT_DIR}/bin/coffer-agent`]);
});
