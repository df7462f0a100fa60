import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { BundleTree, TreeFile } from './renderer.ts';

// A renderer binary runs on a private copy of the bundle's files, never on the directory they
// came from: a source checkout holds ignored and unrelated files, a pulled bundle's extraction
// may be shared; and a path that climbs out of the copy finds an empty scratch directory, not the
// user's files. The copy also stands in for HOME (run-binary.ts), and is removed afterwards.

export interface Scratch {
  /** The scratch directory; the bundle is at `bundle/`, HOME at `home/`. */
  dir: string;
  bundle: string;
  home: string;
}

/** Runs `fn` with a fresh scratch directory, removed afterwards whatever happens. */
export async function withScratch<T>(fn: (scratch: Scratch) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'promote-render-'));
  try {
    const scratch = { dir, bundle: join(dir, 'bundle'), home: join(dir, 'home') };
    await mkdir(scratch.bundle);
    await mkdir(scratch.home);
    return await fn(scratch);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Copies the tree's files (those `keep` accepts) into `dest`, at their bundle-relative paths: the
 * directories first, then the files all at once (one after the other, each copy waited its own
 * turn through the thread pool: ~17 ms for a chart of 30 files). Settles only once every copy
 * has, so a failure leaves nothing still being written into the scratch directory.
 */
export async function copyTree(tree: BundleTree, dest: string, keep: (f: TreeFile) => boolean = () => true): Promise<void> {
  const files = tree.files.filter(keep).map((f) => ({ source: f.source, target: join(dest, f.path) }));
  await settled([...new Set(files.map((f) => dirname(f.target)))].map((dir) => mkdir(dir, { recursive: true })));
  await settled(files.map((f) => copyFile(f.source, f.target)));
}

async function settled(work: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
