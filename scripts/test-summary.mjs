// Reads tap's output on stdin, passes it through, and closes with the plain
// line CI reads: "N passed, N failed". tap's own summary line is
// `# { total: N, pass: N, fail: N }` (fail omitted when zero).
import { createInterface } from 'node:readline';

let pass = 0;
let fail = 0;
let seen = false;
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  process.stdout.write(line + '\n');
  const m = /^# \{ (.*) \}$/.exec(line.trim());
  if (!m) return;
  seen = true;
  for (const part of m[1].split(',')) {
    const [k, v] = part.split(':').map((s) => s.trim());
    if (k === 'pass') pass = Number(v);
    if (k === 'fail') fail = Number(v);
  }
});
rl.on('close', () => {
  // No summary means tap itself failed: never report that as green.
  if (!seen) fail = Math.max(fail, 1);
  process.stdout.write(`${pass} passed, ${fail} failed\n`);
});
