// Work that must not outlive an interrupted process: temporary directories (the build's layer
// file, a pull's hidden staging directory). Code that creates one registers its removal here
// and unregisters once it is gone or renamed into place; the CLI runs what is still registered
// when SIGINT/SIGTERM arrives, before it exits. Normal success and failure paths still clean up
// themselves: this registry only covers the signal, which skips every `finally`.

type Cleanup = () => Promise<unknown>;

const pending = new Set<Cleanup>();

/** Registers `cleanup` to run on interruption; returns the function that unregisters it. */
export function onInterrupt(cleanup: Cleanup): () => void {
  const entry: Cleanup = () => cleanup();
  pending.add(entry);
  return () => {
    pending.delete(entry);
  };
}

/**
 * Registers `cleanup` and returns a dispose function that unregisters and runs it (at most once),
 * for resources whose owner disposes of them explicitly.
 */
export function disposeOnInterrupt(cleanup: Cleanup): () => Promise<void> {
  const unregister = onInterrupt(cleanup);
  let done: Promise<void> | undefined;
  return () => {
    unregister();
    done ??= cleanup().then(() => undefined);
    return done;
  };
}

/**
 * Runs every registered cleanup, concurrently, each at most once. A cleanup that fails is tried
 * again (a directory being written while it is removed can fail with ENOTEMPTY once); one that
 * still fails is left: an interrupted process must still exit.
 */
export async function runCleanups(attempts = 3): Promise<void> {
  let todo = [...pending];
  pending.clear();
  for (let i = 0; i < attempts && todo.length; i++) {
    const results = await Promise.allSettled(todo.map((c) => c()));
    todo = todo.filter((_, j) => results[j]!.status === 'rejected');
  }
}
