// The process's signals belong to the CLI, not the library: a command that runs until
// interrupted (run, status --watch) hands the library an AbortSignal instead. While the listener
// is there, main.ts's own SIGINT/SIGTERM handler leaves the process to it (a graceful stop); a
// second signal finds only main's and exits.

/** Runs `body` with a signal that aborts on the first SIGINT or SIGTERM. */
export async function untilStopped<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
