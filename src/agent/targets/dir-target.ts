import { createHash } from 'node:crypto';
import { link, lstat, mkdir, readFile, readdir, realpath, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { PromoteError, isPromoteError } from '../../errors.ts';
import { isTempName, sweepTemps } from '../../temp-file.ts';
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
  TargetSet,
} from '../target.ts';
import { checkSet } from '../target.ts';
import { fileSha256Digest } from '../../oci/digest.ts';
import { stageFile, syncDir, syncFiles, writeFileAtomic } from '../write-file-atomic.ts';

// The embedded default target: a directory on a host, which people and other tools may share.
//
// Ownership: the inventory lists every file this agent wrote, with the sha256 it wrote. Only
// those are ever replaced or pruned. A file the render has but the inventory does not list is
// someone else's: it is left exactly as it is and reported (Failed, reason Conflict) unless the
// target was told to adopt (`--adopt`, `dir:<path>?adopt=true`), which takes it over and says so
// in the report. An owned file a human edited is drift, not a foreign file.
//
// Writes are two-phase, so a full disk or an I/O error leaves the directory as it was: every
// changed file is first written to a temp file beside it and fsynced; only when all of them are
// on disk are they renamed into place (a new file is hard-linked, which fails rather than replace
// a file created meanwhile). New files are claimed in the inventory (`pending`) before they
// appear, so a crash between the two cannot leave a file that nobody owns.

export const INVENTORY_FILE = '.promote-inventory.json';

interface Inventory {
  version: 1;
  owner: { pipeline: string; stage: string; cluster: string };
  /** The record last applied *completely* (apply and prune done); absent until then. */
  recordDigest?: string;
  bundleDigest?: string;
  /** Relative path → `sha256:<hex>` of the content this agent wrote. */
  files: Record<string, string>;
  /**
   * Files about to be created or adopted, with the content about to be written: owned once the
   * file holds exactly that content, dropped otherwise (the write never happened, and whatever is
   * there now is someone else's).
   */
  pending?: Record<string, string>;
}

export interface DirTargetOptions {
  /** Take over files the render has that exist but were not written by this agent. */
  adopt?: boolean;
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
  if (isTempName(basename(norm))) {
    throw new PromoteError('TARGET_PATH_INVALID', `rendered file "${path}" is named like a promote temp file, which the agent removes when its writer is gone`, {
      hint: 'rename the file in the bundle',
    });
  }
  // The caller's own string when it is already normal: one copy of each of 100,000 paths, not two.
  return norm === path ? path : norm;
}

/**
 * `read(path)` of the regular file at `path`; undefined when nothing is there, 'other' when it is
 * not a regular file (a directory, a link, …): never followed, never read.
 */
async function readRegular<T>(path: string, read: (path: string) => Promise<T>): Promise<T | undefined | 'other'> {
  try {
    if (!(await lstat(path)).isFile()) return 'other';
    return await read(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** What is at `path`, by digest, streamed (never read whole: shipped files can be large). */
const liveDigest = (path: string) => readRegular(path, fileSha256Digest);

function desiredDigest(file: RenderedFile): Promise<string> | string {
  return 'source' in file ? fileSha256Digest(file.source) : sha256(file.content);
}

/**
 * `"files": { path: digest, … }` as JSON.stringify(…, null, 2) writes it at the second level,
 * sorted by path, in parts of a thousand entries: an inventory of 100,000 files is never held as
 * one string (nor a sorted copy of the map built first, as Object.fromEntries would).
 */
function* mapText(key: string, files: Record<string, string>): Generator<string> {
  const paths = Object.keys(files).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (paths.length === 0) {
    yield `  ${JSON.stringify(key)}: {}`;
    return;
  }
  yield `  ${JSON.stringify(key)}: {\n`;
  for (let i = 0; i < paths.length; i += 1000) {
    const part = paths.slice(i, i + 1000).map((p) => `    ${JSON.stringify(p)}: ${JSON.stringify(files[p])}`);
    yield `${i > 0 ? ',\n' : ''}${part.join(',\n')}`;
  }
  yield '\n  }';
}

function sameFiles(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** Files staged at once: enough to keep the thread pool busy, few enough for the fd limit. */
const STAGE_CONCURRENCY = 8;

/** Runs `fn` over `items`, `limit` at a time, in order of start; stops starting once `fn` returns false. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<boolean>): Promise<void> {
  let next = 0;
  let go = true;
  const worker = async (): Promise<void> => {
    while (go && next < items.length) if (!(await fn(items[next++]!))) go = false;
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'ENOSPC' ? `no space left on device (ENOSPC)` : e.code === 'EDQUOT' ? 'disk quota exceeded (EDQUOT)' : e.message;
}

/** Where a file's parent directory really is: `escapesTo` when a symbolic link leads it outside the target. */
interface ParentCheck {
  parent: string | undefined;
  escapesTo?: string;
}

/** One file the apply writes: staged to `tmp`, then renamed (replace) or linked (create) into place. */
interface PlannedWrite {
  rel: string;
  digest: string;
  content: Uint8Array | { source: string };
  /** A new file: linked, not renamed, so it cannot replace one created meanwhile. */
  create: boolean;
  /** Not owned yet (new or adopted): claimed in the inventory before it is put in place. */
  claim: boolean;
  adopted: boolean;
  existed: boolean;
  tmp?: string;
}

export class DirTarget implements Target {
  readonly name: string;
  readonly root: string;
  readonly adopt: boolean;

  constructor(root: string, options: DirTargetOptions = {}) {
    this.root = root;
    this.adopt = options.adopt === true;
    this.name = `dir:${root}`;
  }

  /**
   * The parent directory of `rel`, created if needed, after checking that it really is inside the
   * target: a symbolic link planted in the target (`manifests -> /etc`) must not redirect a write
   * or a prune outside it. `made` collects the first directory mkdir had to create.
   */
  private async safeParent(rel: string, create = true, made?: string[], checked?: Map<string, Promise<ParentCheck>>): Promise<string | undefined> {
    const parent = dirname(join(this.root, rel));
    let found = checked?.get(parent);
    if (!found) {
      // One apply asks for the same few directories 99,000 times: each is checked once per apply.
      found = this.checkParent(parent, create, made);
      if (checked) {
        checked.set(parent, found);
        found.catch(() => checked.delete(parent));
      }
    }
    const { escapesTo } = await found;
    if (escapesTo !== undefined) {
      throw new PromoteError('TARGET_PATH_ESCAPES', `${join(this.root, rel)} leads outside ${this.root} (through a symbolic link to ${escapesTo})`, {
        hint: 'remove the symbolic link from the target directory; the agent only writes inside it',
      });
    }
    return (await found).parent;
  }

  private async checkParent(parent: string, create: boolean, made?: string[]): Promise<ParentCheck> {
    if (create) {
      const first = await mkdir(parent, { recursive: true });
      if (first !== undefined) made?.push(first);
    }
    let realParent: string;
    try {
      realParent = await realpath(parent);
    } catch (err) {
      if (!create && (err as NodeJS.ErrnoException).code === 'ENOENT') return { parent: undefined };
      throw err;
    }
    const realRoot = await realpath(this.root);
    const inside = relative(realRoot, realParent);
    if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) return { parent, escapesTo: realParent };
    return { parent };
  }

  private async readInventory(): Promise<Inventory | undefined> {
    const bytes = await readRegular(join(this.root, INVENTORY_FILE), (p) => readFile(p));
    if (bytes === undefined) return undefined;
    try {
      if (bytes === 'other') throw new Error('not a regular file');
      const inv = JSON.parse(bytes.toString('utf8')) as Inventory;
      if (inv.version !== 1 || typeof inv.files !== 'object' || inv.files === null) throw new Error('unknown inventory version');
      if (inv.pending !== undefined && (typeof inv.pending !== 'object' || inv.pending === null)) throw new Error('"pending" is not an object');
      return inv;
    } catch (err) {
      throw new PromoteError('TARGET_INVENTORY_INVALID', `${join(this.root, INVENTORY_FILE)} is not a promote inventory`, {
        cause: err,
        hint: 'it is written by the agent; remove it only if nothing else owns files in this directory, then run the agent again',
      });
    }
  }

  /** What the inventory owns: its files, plus the pending ones whose write did happen. */
  private async owned(inv: Inventory | undefined): Promise<Record<string, string>> {
    const files: Record<string, string> = { ...(inv?.files ?? {}) };
    for (const [path, digest] of Object.entries(inv?.pending ?? {})) {
      if (files[path] !== undefined) continue;
      const live = await liveDigest(join(this.root, path)).catch(() => undefined);
      if (live === digest) files[path] = digest;
    }
    return files;
  }

  private async writeInventory(owner: Inventory['owner'], files: Record<string, string>, done: { recordDigest?: string; bundleDigest?: string }, pending?: Record<string, string>): Promise<void> {
    const head: Omit<Inventory, 'files' | 'pending'> = {
      version: 1,
      owner,
      ...(done.recordDigest && { recordDigest: done.recordDigest }),
      ...(done.bundleDigest && { bundleDigest: done.bundleDigest }),
    };
    // The same text as JSON.stringify(inventory, null, 2), the two maps sorted by path.
    function* text(): Generator<string> {
      yield `${JSON.stringify(head, null, 2).slice(0, -2)},\n`;
      yield* mapText('files', files);
      if (pending && Object.keys(pending).length > 0) {
        yield ',\n';
        yield* mapText('pending', pending);
      }
      yield '\n}\n';
    }
    await writeFileAtomic(join(this.root, INVENTORY_FILE), { text: text() });
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

  /**
   * Removes temp files left by writers that are gone (killed mid-apply, say) from the directories
   * this agent writes to; a live writer's — another agent's, a `promote pull`'s — are kept.
   */
  async sweep(desired?: DesiredState): Promise<string[]> {
    const inv = await this.readInventory().catch(() => undefined);
    const paths = [...Object.keys(inv?.files ?? {}), ...Object.keys(inv?.pending ?? {})];
    for (const f of desired?.files ?? []) {
      try {
        paths.push(checkPath(f.path));
      } catch {
        // apply reports it
      }
    }
    const dirs = new Map<string, Set<string>>([['.', new Set([INVENTORY_FILE])]]);
    for (const p of paths) {
      const d = dirname(p);
      if (!dirs.has(d)) dirs.set(d, new Set());
      dirs.get(d)!.add(basename(p));
    }
    const removed: string[] = [];
    for (const [dir, keep] of dirs) {
      try {
        const parent = await this.safeParent(join(dir, 'x'), false);
        if (!parent) continue;
        for (const name of await sweepTemps(parent, keep)) removed.push(join(dir, name));
      } catch {
        // a directory that leads outside the target is not swept
      }
    }
    return removed;
  }

  async observe(desired: DesiredState): Promise<Observation> {
    const inv = await this.readInventory();
    this.checkOwner(inv, desired);
    const set: TargetSet = { recordDigest: desired.recordDigest, by: 'observe' };
    if (!inv) return { owned: [], drift: [], set };
    const owned = await this.owned(inv);
    const drift: DriftedObject[] = [];
    for (const [path, digest] of Object.entries(owned)) {
      const live = await liveDigest(join(this.root, path));
      if (live === undefined) drift.push({ id: path, kind: 'missing', message: `${path} was removed` });
      else if (live === 'other') drift.push({ id: path, kind: 'modified', message: `${path} was replaced by something that is not a regular file` });
      else if (live !== digest) drift.push({ id: path, kind: 'modified', message: `${path} was modified (content ${live.slice(0, 19)}…, applied ${digest.slice(0, 19)}…)` });
    }
    return { owned: Object.keys(owned), ...(inv.recordDigest && { appliedRecordDigest: inv.recordDigest }), drift, set };
  }

  async apply(desired: DesiredState, _options: ApplyOptions = {}): Promise<ApplyResult> {
    const inv = await this.readInventory();
    this.checkOwner(inv, desired);
    await mkdir(this.root, { recursive: true });
    await this.sweep(desired);
    const owned = await this.owned(inv);
    const objects: ObjectResult[] = [];
    // Until prune runs, the inventory keeps the old files too: a crash in between still knows them.
    const files: Record<string, string> = { ...owned };
    const planned: PlannedWrite[] = [];
    const made: string[] = [];
    const seen = new Set<string>();
    const checked = new Map<string, Promise<ParentCheck>>();
    let stopped: ObjectResult | undefined;

    // 1. Decide, touching nothing but missing parent directories.
    for (const file of desired.files) {
      const rel = checkPath(file.path);
      if (seen.has(rel)) throw new PromoteError('TARGET_PATH_DUPLICATE', `the render has two files at ${rel}`, { hint: 'rename one of them in the bundle' });
      seen.add(rel);
      const digest = await desiredDigest(file);
      let abs: string;
      try {
        abs = join((await this.safeParent(rel, true, made, checked))!, basename(rel));
      } catch (err) {
        if (!isPromoteError(err)) {
          stopped = { id: rel, action: 'failed', reason: 'WriteFailed', message: `cannot create the directory for ${rel}: ${errnoText(err)}` };
          break;
        }
        objects.push({ id: rel, action: 'failed', reason: 'PathEscapes', message: err.message });
        continue;
      }
      const live = await liveDigest(abs);
      const same = live === digest;
      if (owned[rel] !== undefined) {
        if (same) objects.push({ id: rel, action: 'unchanged', health: 'Healthy' });
        else planned.push({ rel, digest, content: 'source' in file ? file : file.content, create: live === undefined, claim: false, adopted: false, existed: live !== undefined });
        continue;
      }
      if (live === undefined) {
        planned.push({ rel, digest, content: 'source' in file ? file : file.content, create: true, claim: true, adopted: false, existed: false });
      } else if (!this.adopt || live === 'other') {
        objects.push(this.conflict(rel, live === 'other' ? 'exists and is not a regular file' : 'exists and was not written by this agent'));
      } else if (same) {
        files[rel] = digest;
        objects.push({ id: rel, action: 'unchanged', health: 'Healthy', reason: 'Adopted', message: `${rel} existed with this content and was adopted (adopt is on)` });
      } else {
        planned.push({ rel, digest, content: 'source' in file ? file : file.content, create: false, claim: true, adopted: true, existed: true });
      }
    }

    // 2. Stage every write, then fsync the staged files together (one after the other, 99,000
    // fsyncs made a round take half an hour); any failure (a full disk) undoes all of them: the target
    // is unchanged. Nothing is renamed into place before every temp file is on disk.
    if (!stopped) {
      await eachLimited(planned, STAGE_CONCURRENCY, async (w) => {
        if (stopped) return false;
        try {
          w.tmp = await stageFile(this.pathOf(w.rel), w.content, { sync: false });
          return true;
        } catch (err) {
          stopped ??= { id: w.rel, action: 'failed', reason: 'WriteFailed', message: `cannot write ${w.rel}: ${errnoText(err)}` };
          return false;
        }
      });
    }
    if (!stopped) {
      const failed = await syncFiles(planned.map((w) => w.tmp!));
      if (failed) stopped = { id: planned[failed.index]!.rel, action: 'failed', reason: 'WriteFailed', message: `cannot write ${planned[failed.index]!.rel}: ${errnoText(failed.error)}` };
    }
    const claims = Object.fromEntries(planned.filter((w) => w.claim).map((w) => [w.rel, w.digest]));
    if (!stopped && Object.keys(claims).length > 0) {
      try {
        await this.writeInventory(desired.owner, files, this.doneOf(inv), claims);
      } catch (err) {
        stopped = { id: INVENTORY_FILE, action: 'failed', reason: 'WriteFailed', message: `cannot write ${INVENTORY_FILE}: ${errnoText(err)}` };
      }
    }
    if (stopped) {
      await Promise.all(planned.map((w) => (w.tmp ? rm(w.tmp, { force: true }) : undefined)));
      await this.removeMade(made, planned.map((w) => this.pathOf(w.rel)));
      stopped.message += `; nothing in ${this.root} was changed`;
      const failedId = stopped.id;
      const untouched = planned.filter((w) => w.rel !== failedId).map((w): ObjectResult => ({ id: w.rel, action: 'skipped', reason: 'NotApplied', message: `${w.rel} was not written: the apply stopped` }));
      return { objects: [...objects, stopped, ...untouched], writes: 0, set: { recordDigest: desired.recordDigest, by: 'apply' } };
    }

    // 3. Put every staged file in place.
    let writes = 0;
    const parents = new Set<string>();
    for (const w of planned) {
      try {
        const abs = this.pathOf(w.rel);
        if (w.create) await this.createNew(w.tmp!, abs);
        else await rename(w.tmp!, abs);
        w.tmp = undefined;
        files[w.rel] = w.digest;
        writes++;
        parents.add(dirname(abs));
        objects.push({
          id: w.rel,
          action: w.existed ? 'configured' : 'created',
          health: 'Healthy',
          ...(w.adopted && { reason: 'Adopted', message: `${w.rel} existed before this agent and was adopted (adopt is on): replaced` }),
        });
      } catch (err) {
        objects.push((err as NodeJS.ErrnoException).code === 'EEXIST'
          ? this.conflict(w.rel, 'appeared while the agent was writing and was not written by this agent')
          : { id: w.rel, action: 'failed', reason: 'WriteFailed', message: `cannot write ${w.rel}: ${errnoText(err)}` });
      } finally {
        if (w.tmp) await rm(w.tmp, { force: true });
      }
    }
    for (const p of parents) await syncDir(p).catch(() => undefined);

    // The record is marked applied only by prune, after the whole render is in place: a crash
    // before that leaves the old record in the inventory, and the next round applies again.
    const changed = !inv || Object.keys(claims).length > 0 || !sameFiles(files, inv.files) || inv.pending !== undefined;
    if (changed) {
      await this.writeInventory(desired.owner, files, this.doneOf(inv));
      writes++;
    }
    return { objects, writes, set: { recordDigest: desired.recordDigest, by: 'apply' } };
  }

  /** Where `rel` (checked by checkPath, its parent by safeParent) is: not kept per planned write, 100,000 of them. */
  private pathOf(rel: string): string {
    return join(this.root, rel);
  }

  private doneOf(inv: Inventory | undefined): { recordDigest?: string; bundleDigest?: string } {
    return { ...(inv?.recordDigest && { recordDigest: inv.recordDigest }), ...(inv?.bundleDigest && { bundleDigest: inv.bundleDigest }) };
  }

  private conflict(rel: string, why: string): ObjectResult {
    return {
      id: rel,
      action: 'failed',
      reason: 'Conflict',
      message: `${rel} ${why} (${INVENTORY_FILE} does not list it): left untouched; move it away, or run the agent with --adopt to take it over`,
    };
  }

  /** Links the staged file into place: unlike rename, this fails (EEXIST) instead of replacing a file someone just created. */
  private async createNew(tmp: string, abs: string): Promise<void> {
    try {
      await link(tmp, abs);
      await rm(tmp, { force: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw err;
      // A file system without hard links: check, then rename (a narrow window, but no worse).
      if ((await liveDigest(abs)) !== undefined) throw Object.assign(new Error(`${abs} exists`), { code: 'EEXIST' });
      await rename(tmp, abs);
    }
  }

  /** Removes the directories this apply created for files it then did not write (if still empty). */
  private async removeMade(made: string[], files: string[]): Promise<void> {
    for (const top of made) {
      const below = files.map((f) => dirname(f)).filter((d) => d === top || d.startsWith(`${top}${sep}`)).sort((a, b) => b.length - a.length);
      for (let dir of below) {
        while (dir.length >= top.length) {
          await rmdir(dir).catch(() => undefined);
          if (dir === top) break;
          dir = dirname(dir);
        }
      }
      await rmdir(top).catch(() => undefined);
    }
  }

  /** The files are kept from `desired` itself: `applied` only proves an apply of it came first. */
  async prune(desired: DesiredState, applied: TargetSet): Promise<PruneResult> {
    checkSet(applied, desired, 'prune');
    const inv = await this.readInventory();
    this.checkOwner(inv, desired);
    if (!inv) return { pruned: [], kept: [], writes: 0 };
    const keep = new Set(desired.files.map((f) => checkPath(f.path)));
    const pruned: string[] = [];
    const kept: ObjectResult[] = [];
    const files: Record<string, string> = {};
    for (const [path, digest] of Object.entries(await this.owned(inv))) {
      if (keep.has(path)) {
        files[path] = digest;
        continue;
      }
      try {
        const parent = await this.safeParent(path, false);
        if (parent) await rm(join(parent, basename(path)), { force: true });
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
    if (pruned.length === 0 && kept.length === 0 && done && inv.pending === undefined) return { pruned, kept, writes: 0 };
    await this.writeInventory(desired.owner, files, { recordDigest: desired.recordDigest, bundleDigest: desired.bundleDigest });
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

  /** A file is healthy once it is written: there is nothing to wait for. */
  async health(desired: DesiredState, set: TargetSet, _options?: HealthOptions): Promise<HealthResult> {
    checkSet(set, desired, 'health');
    return { healthy: true, objects: desired.files.map((f) => ({ id: f.path, action: 'unchanged', health: 'Healthy' })) };
  }
}
