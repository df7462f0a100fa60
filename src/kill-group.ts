import type { ChildProcess } from 'node:child_process';

// Killing a command started with `detached: true` (its own process group) kills what it started
// too: a `sh -c` that runs a child would otherwise leave it running, holding the output pipes.

export function killProcessGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
