// Memory (issue 12 §13): V8 sizes its heap from the machine's memory — on a 16 GiB laptop two
// 64 MiB semi-spaces for the young generation and an old one left to grow to several times what
// is live before it is collected — so reading a bundle of 99,000 entries peaked near 450 MiB
// where its live data is a quarter of that. The commands that read a bundle run with a fixed
// young generation and V8's memory-saving heuristics instead (V8_MEMORY_FLAGS), which keeps them
// under the 256 MiB of src/bundle/limits.ts; V8 takes these only at start, so the process
// re-executes itself in place (same pid, same stdio; ~40 ms). A --max-semi-space-size the user
// gave (NODE_OPTIONS, node's own arguments) means they tune V8 themselves: left alone.
//
// bin/promote.js re-executes at once for the commands that always read a bundle; `render`
// decides once its arguments are parsed: a pulled bundle is read, a source directory is rendered
// from where it is (as `build` reads one, without the re-execution and its start-up cost).

export const V8_MEMORY_FLAGS = ['--max-semi-space-size=16', '--optimize-for-size'];

/** Commands that always read a bundle from a registry or a layout. */
export const READS_BUNDLES: ReadonlySet<string> = new Set(['pull', 'inspect', 'verify', 'agent']);

let allowed = false;

/**
 * Called by bin/promote.js, which knows the process is promote's own CLI run by `node`: only then
 * may it be replaced. (The single executable takes no node flags; code importing main() — tests,
 * scripts — must never see its process re-executed.)
 */
export function allowMemoryReexec(): void {
  allowed = true;
}

/**
 * Re-executes this process with V8_MEMORY_FLAGS, same arguments, same pid, same stdio; returns
 * only when it does not: not allowed (above), already running with the flags, the user set their
 * own semi-space size, or execve is refused (a sandbox): then it runs on with V8's own sizing.
 * Call it before anything touches process.stdin, stdout or stderr: a stream made on a pipe sets
 * it non-blocking, and the new process — and the parent sharing the pipe, whose own writes then
 * fail with EAGAIN — would inherit that (src/cli/main.ts makes them only when first written to).
 */
export function reexecWithMemoryFlags(): void {
  if (!allowed || typeof process.execve !== 'function' || process.platform === 'win32') return;
  if ([...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => a.startsWith('--max-semi-space-size'))) return;
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...V8_MEMORY_FLAGS, ...process.argv.slice(1)], process.env);
  } catch {
    // Not re-executed: run as we are.
  }
}
