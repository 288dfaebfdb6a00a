// Holds a real process still (SIGSTOP) so a test can act while it is in the
// middle of its work: a fault a real part cannot be asked for. The returned
// function continues it (SIGCONT); a test that fails before that kills it
// at teardown, so nothing stays stopped behind the run.
export function holdProcess(t: { teardown(fn: () => unknown): void }, pid: number): () => void {
  process.kill(pid, 'SIGSTOP');
  let held = true;
  t.teardown(() => {
    if (!held) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  });
  return () => {
    if (!held) return;
    held = false;
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone already
    }
  };
}
