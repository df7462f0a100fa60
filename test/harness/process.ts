// What the harnesses that run a real server process (docker-registry, prometheus) share: a port
// to give it, a record of its exit, the tail of its stderr for failure messages, a stop that
// lets it shut down cleanly, and a process-exit hook so a test that forgets stop() (or crashes)
// leaves no server behind. How each is configured and when it counts as ready stays with it.
import type { ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createNetServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A port free on 127.0.0.1, below the kernel's ephemeral range (32768+): a port the kernel calls
 * free there can be taken by parallel tests' outbound connections before the server binds it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await canBind(port)) return port;
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try { child.kill('SIGKILL'); } catch { /* already gone */ }
    }
  });
}

export interface ServerProcess {
  readonly child: ChildProcess;
  exited(): boolean;
  /** The last 4000 characters it wrote to stderr (which must be a pipe). */
  stderrTail(): string;
  /** SIGTERM by PID, SIGKILL if it has not exited after `graceMs`; resolves once it has exited. */
  stop(graceMs: number): Promise<void>;
  /** SIGKILL (a start-up that failed); resolves once it has exited. */
  kill(): Promise<void>;
}

/** Tracks a spawned server until it exits; call right after spawn, before any await. */
export function trackServer(child: ChildProcess): ServerProcess {
  installExitHook();
  live.add(child);
  let exited = false;
  let tail = '';
  let resolveExit!: () => void;
  const exit = new Promise<void>((resolve) => { resolveExit = resolve; });
  const gone = () => { exited = true; live.delete(child); resolveExit(); };
  child.once('exit', gone);
  // A spawn that failed (no such binary) has no pid and may never emit 'exit'.
  child.on('error', () => { if (child.pid === undefined) gone(); });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => { tail = (tail + chunk).slice(-4000); });
  return {
    child,
    exited: () => exited,
    stderrTail: () => tail,
    async stop(graceMs) {
      if (exited || child.pid === undefined) return;
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, graceMs);
      await exit;
      clearTimeout(timer);
    },
    async kill() {
      if (exited) return;
      child.kill('SIGKILL');
      await exit;
    },
  };
}
