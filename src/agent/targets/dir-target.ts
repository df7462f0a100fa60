import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, realpath, rm, rmdir } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { PromoteError, isPromoteError } from '../../errors.ts';
import type {
  ApplyOptions,
  ApplyResult,
  DesiredState,
  DriftedObject,
  HealthOptions,
  HealthResult,
  Observation,
  ObjectResult,
  PruneResult,
  RenderedFile,
  Target,
} from '../target.ts';
import { fileSha256Digest } from '../../oci/digest.ts';
import { writeFileAtomic } from '../write-file-atomic.ts';

// The embedded default target: a directory on a host. Every write is temp file + fsync + rename
// in the same directory, so a reader (or a crash) sees the old file or the new one, never half.
// The inventory records which files this agent owns and their sha256, which is what makes
// pruning safe (only owned files go) and drift detection cheap (hash, compare).

export const INVENTORY_FILE = '.promote-inventory.json';

interface Inventory {
  version: 1;
  owner: { pipeline: string; stage: string; cluster: string };
  /** The record last applied *completely* (apply and prune done); absent until then. */
  recordDigest?: string;
  bundleDigest?: string;
  /** Relative path → `sha256:<hex>` of the content this agent wrote. */
  files: Record<string, string>;
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function checkPath(path: string): string {
  const norm = normalize(path);
  if (isAbsolute(path) || norm === '..' || norm.startsWith(`..${sep}`) || norm === '.' || norm === INVENTORY_FILE) {
    throw new PromoteError('TARGET_PATH_INVALID', `rendered file "${path}" would be written outside the target directory`, {
      hint: 'bundle paths must be relative and stay inside the bundle; rebuild the bundle',
    });
  }
  return norm;
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw err;
  }
}

/** The digest of a live file, streamed (never read whole: shipped files can be large). */
async function digestIfExists(path: string): Promise<string | undefined> {
  try {
    return await fileSha256Digest(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw err;
  }
}

function desiredDigest(file: RenderedFile): Promise<string> | string {
  return 'source' in file ? fileSha256Digest(file.source) : sha256(file.content);
}

export class DirTarget implements Target {
  readonly name: string;
  readonly root: string;

  constructor(root: string) {
    this.root = root;
    this.name = `dir:${root}`;
  }

  /**
   * The parent directory of `rel`, created if needed, after checking that it really is inside the
   * target: a symbolic link planted in the target (`manifests -> /etc`) must not redirect a write
   * or a prune outside it.
   */
  private async safeParent(rel: string, create = true): Promise<string | undefined> {
    const parent = dirname(join(this.root, rel));
    if (create) await mkdir(parent, { recursive: true });
    let realParent: string;
    try {
      realParent = await realpath(parent);
    } catch (err) {
      if (!create && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const realRoot = await realpath(this.root);
    const inside = relative(realRoot, realParent);
    if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
      throw new PromoteError('TARGET_PATH_ESCAPES', `${join(this.root, rel)} leads outside ${this.root} (through a symbolic link to ${realParent})`, {
        hint: 'remove the symbolic link from the target directory; the agent only writes inside it',
      });
    }
    return parent;
  }

  private async readInventory(): Promise<Inventory | undefined> {
    const bytes = await readIfExists(join(this.root, INVENTORY_FILE));
    if (!bytes) return undefined;
    try {
      const inv = JSON.parse(bytes.toString('utf8')) as Inventory;
      if (inv.version !== 1 || typeof inv.files !== 'object' || inv.files === null) throw new Error('unknown inventory version');
      return inv;
    } catch (err) {
      throw new PromoteError('TARGET_INVENTORY_INVALID', `${join(this.root, INVENTORY_FILE)} is not a promote inventory`, {
        cause: err,
        hint: 'it is written by the agent; remove it only if nothing else owns files in this directory, then run the agent again',
      });
    }
  }

  private async writeInventory(desired: DesiredState, files: Record<string, string>, done: { recordDigest?: string; bundleDigest?: string }): Promise<void> {
    const inv: Inventory = {
      version: 1,
      owner: desired.owner,
      ...(done.recordDigest && { recordDigest: done.recordDigest }),
      ...(done.bundleDigest && { bundleDigest: done.bundleDigest }),
      files: Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    };
    await writeFileAtomic(join(this.root, INVENTORY_FILE), Buffer.from(`${JSON.stringify(inv, null, 2)}\n`));
  }

  private checkOwner(inv: Inventory | undefined, desired: DesiredState): void {
    if (!inv) return;
    const a = inv.owner;
    const b = desired.owner;
    if (a.pipeline !== b.pipeline || a.stage !== b.stage || a.cluster !== b.cluster) {
      throw new PromoteError(
        'TARGET_OWNED_BY_OTHER',
        `${this.root} is owned by pipeline ${a.pipeline}, stage ${a.stage}, cluster ${a.cluster}, not by ${b.pipeline}/${b.stage}/${b.cluster}`,
        { hint: 'give every agent its own target directory' },
      );
    }
  }

  async observe(desired: DesiredState): Promise<Observation> {
    const inv = await this.readInventory();
    this.checkOwner(inv, desired);
    if (!inv) return { owned: [], drift: [] };
    const drift: DriftedObject[] = [];
    for (const [path, digest] of Object.entries(inv.files)) {
      const live = await digestIfExists(join(this.root, path));
      if (!live) drift.push({ id: path, kind: 'missing', message: `${path} was removed` });
      else if (live !== digest) drift.push({ id: path, kind: 'modified', message: `${path} was modified (content ${live.slice(0, 19)}…, applied ${digest.slice(0, 19)}…)` });
    }
    return { owned: Object.keys(inv.files), ...(inv.recordDigest && { appliedRecordDigest: inv.recordDigest }), drift };
  }

  async apply(desired: DesiredState, _options: ApplyOptions = {}): Promise<ApplyResult> {
    const inv = await this.readInventory();
    this.checkOwner(inv, desired);
    const objects: ObjectResult[] = [];
    let writes = 0;
    // Until prune runs, the inventory keeps the old files too: a crash in between still knows them.
    const files: Record<string, string> = { ...(inv?.files ?? {}) };
    const seen = new Set<string>();
    for (const file of desired.files) {
      const rel = checkPath(file.path);
      if (seen.has(rel)) throw new PromoteError('TARGET_PATH_DUPLICATE', `the render has two files at ${rel}`, { hint: 'rename one of them in the bundle' });
      seen.add(rel);
      const digest = await desiredDigest(file);
      await mkdir(this.root, { recursive: true });
      let abs: string;
      try {
        abs = join((await this.safeParent(rel))!, rel.split(sep).pop()!);
      } catch (err) {
        if (!isPromoteError(err)) throw err;
        objects.push({ id: rel, action: 'failed', reason: 'PathEscapes', message: err.message });
        continue;
      }
      const live = await digestIfExists(abs);
      if (live === digest) {
        objects.push({ id: rel, action: 'unchanged', health: 'Healthy' });
      } else {
        try {
          await writeFileAtomic(abs, 'source' in file ? { source: file.source } : file.content);
          writes++;
          objects.push({ id: rel, action: live ? 'configured' : 'created', health: 'Healthy' });
        } catch (err) {
          objects.push({ id: rel, action: 'failed', reason: 'WriteFailed', message: `cannot write ${abs}: ${(err as Error).message}` });
          continue;
        }
      }
      files[rel] = digest;
    }
    // The record is marked applied only by prune, after the whole render is in place: a crash
    // before that leaves the old record in the inventory, and the next round applies again.
    const changed = !inv || JSON.stringify(Object.entries(files).sort()) !== JSON.stringify(Object.entries(inv.files).sort());
    if (changed) {
      await mkdir(this.root, { recursive: true });
      await this.writeInventory(desired, files, { ...(inv?.recordDigest && { recordDigest: inv.recordDigest }), ...(inv?.bundleDigest && { bundleDigest: inv.bundleDigest }) });
      writes++;
    }
    return { objects, writes };
  }

  async prune(desired: DesiredState): Promise<PruneResult> {
    const inv = await this.readInventory();
    this.checkOwner(inv, desired);
    if (!inv) return { pruned: [], kept: [], writes: 0 };
    const keep = new Set(desired.files.map((f) => checkPath(f.path)));
    const pruned: string[] = [];
    const kept: ObjectResult[] = [];
    const files: Record<string, string> = {};
    for (const [path, digest] of Object.entries(inv.files)) {
      if (keep.has(path)) {
        files[path] = digest;
        continue;
      }
      try {
        const parent = await this.safeParent(path, false);
        if (parent) await rm(join(parent, path.split(sep).pop()!), { force: true });
      } catch (err) {
        if (isPromoteError(err)) {
          kept.push({ id: path, action: 'skipped', reason: 'PathEscapes', message: err.message });
          continue;
        }
        throw err;
      }
      await this.removeEmptyParents(path);
      pruned.push(path);
    }
    const done = inv.recordDigest === desired.recordDigest && inv.bundleDigest === desired.bundleDigest;
    if (pruned.length === 0 && kept.length === 0 && done) return { pruned, kept, writes: 0 };
    await this.writeInventory(desired, files, { recordDigest: desired.recordDigest, bundleDigest: desired.bundleDigest });
    return { pruned, kept, writes: pruned.length + 1 };
  }

  private async removeEmptyParents(rel: string): Promise<void> {
    let dir = dirname(rel);
    while (dir !== '.' && dir !== '') {
      const abs = join(this.root, dir);
      try {
        if ((await readdir(abs)).length > 0) return;
        await rmdir(abs);
      } catch {
        return;
      }
      dir = dirname(dir);
    }
  }

  async health(desired: DesiredState, _options?: HealthOptions): Promise<HealthResult> {
    return { healthy: true, objects: desired.files.map((f) => ({ id: f.path, action: 'unchanged', health: 'Healthy' })) };
  }
}
