import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PromoteError, isPromoteError } from '../../errors.ts';
import { sweepTemps } from '../../temp-file.ts';
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
  Target,
  TargetSet,
} from '../target.ts';
import { checkSet } from '../target.ts';
import { STAGE_CONCURRENCY, createNew, desiredDigest, eachLimited, errnoText, liveDigest, removeEmptyParents, removeMade } from './dir-files.ts';
import { INVENTORY_FILE, checkOwner, doneOf, ownedFiles, readInventory, sameFiles, writeInventory } from './dir-inventory.ts';
import { checkPath, safeParent, type ParentCheck } from './dir-paths.ts';
import { stageFile, syncDir, syncFiles } from '../../write-file-atomic.ts';
import { shortDigest } from '../../short-digest.ts';
import { dirHealth, type DirHealthCheck } from './dir-health.ts';

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
// appear, so a crash between the two cannot leave a file that nobody owns. The inventory is
// dir-inventory.ts, the path checks dir-paths.ts, the plain file operations dir-files.ts.

export interface DirTargetOptions {
  /** Take over files the render has that exist but were not written by this agent. */
  adopt?: boolean;
  health?: DirHealthCheck; // a command whose exit status is the health (dir-health.ts)
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
  readonly healthCheck: DirHealthCheck | undefined;

  constructor(root: string, options: DirTargetOptions = {}) {
    this.root = root;
    this.adopt = options.adopt === true;
    this.healthCheck = options.health;
    this.name = `dir:${root}`;
  }

  /**
   * Removes temp files left by writers that are gone (killed mid-apply, say) from the directories
   * this agent writes to; a live writer's — another agent's, a `promote pull`'s — are kept.
   */
  async sweep(desired?: DesiredState): Promise<string[]> {
    const inv = await readInventory(this.root).catch(() => undefined);
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
        const parent = await safeParent(this.root, join(dir, 'x'), false);
        if (!parent) continue;
        for (const name of await sweepTemps(parent, keep)) removed.push(join(dir, name));
      } catch {
        // a directory that leads outside the target is not swept
      }
    }
    return removed;
  }

  async observe(desired: DesiredState): Promise<Observation> {
    const inv = await readInventory(this.root);
    checkOwner(this.root, inv, desired);
    const set: TargetSet = { recordDigest: desired.recordDigest, by: 'observe' };
    if (!inv) return { owned: [], drift: [], set };
    const owned = await ownedFiles(this.root, inv);
    const drift: DriftedObject[] = [];
    for (const [path, digest] of Object.entries(owned)) {
      const live = await liveDigest(join(this.root, path));
      if (live === undefined) drift.push({ id: path, kind: 'missing', message: `${path} was removed` });
      else if (live === 'other') drift.push({ id: path, kind: 'modified', message: `${path} was replaced by something that is not a regular file` });
      else if (live !== digest) drift.push({ id: path, kind: 'modified', message: `${path} was modified (content ${shortDigest(live, 'elided')}, applied ${shortDigest(digest, 'elided')})` });
    }
    return { owned: Object.keys(owned), ...(inv.recordDigest && { appliedRecordDigest: inv.recordDigest }), drift, set };
  }

  async apply(desired: DesiredState, _options: ApplyOptions = {}): Promise<ApplyResult> {
    const inv = await readInventory(this.root);
    checkOwner(this.root, inv, desired);
    await mkdir(this.root, { recursive: true });
    await this.sweep(desired);
    const owned = await ownedFiles(this.root, inv);
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
        abs = join((await safeParent(this.root, rel, true, made, checked))!, basename(rel));
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
        await writeInventory(this.root, desired.owner, files, doneOf(inv), claims);
      } catch (err) {
        stopped = { id: INVENTORY_FILE, action: 'failed', reason: 'WriteFailed', message: `cannot write ${INVENTORY_FILE}: ${errnoText(err)}` };
      }
    }
    if (stopped) {
      await Promise.all(planned.map((w) => (w.tmp ? rm(w.tmp, { force: true }) : undefined)));
      await removeMade(made, planned.map((w) => this.pathOf(w.rel)));
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
        if (w.create) await createNew(w.tmp!, abs);
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
      await writeInventory(this.root, desired.owner, files, doneOf(inv));
      writes++;
    }
    return { objects, writes, set: { recordDigest: desired.recordDigest, by: 'apply' } };
  }

  /** Where `rel` (checked by checkPath, its parent by safeParent) is: not kept per planned write, 100,000 of them. */
  private pathOf(rel: string): string {
    return join(this.root, rel);
  }

  private conflict(rel: string, why: string): ObjectResult {
    return {
      id: rel,
      action: 'failed',
      reason: 'Conflict',
      message: `${rel} ${why} (${INVENTORY_FILE} does not list it): left untouched; move it away, or run the agent with --adopt to take it over`,
    };
  }

  async prune(desired: DesiredState, applied: TargetSet): Promise<PruneResult> {
    checkSet(applied, desired, 'prune');
    const inv = await readInventory(this.root);
    checkOwner(this.root, inv, desired);
    if (!inv) return { pruned: [], kept: [], writes: 0 };
    const keep = new Set(desired.files.map((f) => checkPath(f.path)));
    const pruned: string[] = [];
    const kept: ObjectResult[] = [];
    const files: Record<string, string> = {};
    for (const [path, digest] of Object.entries(await ownedFiles(this.root, inv))) {
      if (keep.has(path)) {
        files[path] = digest;
        continue;
      }
      try {
        const parent = await safeParent(this.root, path, false);
        if (parent) await rm(join(parent, basename(path)), { force: true });
      } catch (err) {
        if (isPromoteError(err)) {
          kept.push({ id: path, action: 'skipped', reason: 'PathEscapes', message: err.message });
          continue;
        }
        throw err;
      }
      await removeEmptyParents(this.root, path);
      pruned.push(path);
    }
    const done = inv.recordDigest === desired.recordDigest && inv.bundleDigest === desired.bundleDigest;
    if (pruned.length === 0 && kept.length === 0 && done && inv.pending === undefined) return { pruned, kept, writes: 0 };
    await writeInventory(this.root, desired.owner, files, { recordDigest: desired.recordDigest, bundleDigest: desired.bundleDigest });
    return { pruned, kept, writes: pruned.length + 1 };
  }

  /** A written file is healthy; with a check, the directory is as healthy as it says (one more object). */
  async health(desired: DesiredState, set: TargetSet, options: HealthOptions = { timeoutMs: 0 }): Promise<HealthResult> {
    checkSet(set, desired, 'health');
    return await dirHealth(this.healthCheck, this.root, desired, options);
  }
}
