import { mkdir, mkdtemp, readdir, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PromoteError } from '../errors.ts';
import { removeTree } from '../remove-tree.ts';
import type { ImportPlan } from './plan-import.ts';

// Writing an import plan into --out: all or nothing. The project is written into a temporary
// directory beside --out and appears by one rename, so a failure half-way (a full disk, a
// permission) leaves no half a project where `promote validate` or git could pick it up; and an
// --out that already holds anything is refused, so nothing of the user's is ever overwritten.

function unwritable(out: string, err: unknown, file?: string): PromoteError {
  const code = (err as NodeJS.ErrnoException).code;
  const hint =
    file !== undefined
      ? `${file} is a file, not a directory: choose an --out outside it; nothing was written`
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'choose an --out you may write to (its parent directory must be writable too: the project is written beside it first)'
        : 'free the space or fix the directory, then import again; nothing was written';
  return new PromoteError('IMPORT_OUTPUT_UNWRITABLE', `cannot write the imported project to ${out}: ${file !== undefined ? `${file} is a file` : (err as Error).message}`, {
    cause: err,
    hint,
    details: { out, ...(code !== undefined && { errno: code }) },
  });
}

/** The regular file in the way of `target` (ENOTDIR: an ancestor of it is not a directory), if one is. */
async function fileAbove(target: string): Promise<string | undefined> {
  for (let dir = dirname(target); dir !== dirname(dir); dir = dirname(dir)) {
    const info = await stat(dir).catch(() => undefined);
    if (info) return info.isDirectory() ? undefined : dir;
  }
  return undefined;
}

async function checkEmpty(target: string, out: string): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    // ENOTDIR: --out is a file, or a directory above it is (then it cannot be made).
    if (code === 'ENOTDIR' && (await stat(target).then((s) => !s.isDirectory(), () => false))) {
      throw new PromoteError('IMPORT_OUTPUT_NOT_EMPTY', `${out} exists and is not a directory`, { outcome: 'usage', hint: 'pass the path of a new or empty directory as --out' });
    }
    throw unwritable(out, err, code === 'ENOTDIR' ? await fileAbove(target) : undefined);
  }
  if (entries.length) {
    throw new PromoteError('IMPORT_OUTPUT_NOT_EMPTY', `${out} already exists and is not empty`, {
      outcome: 'usage',
      hint: 'import into a new or empty directory (import never overwrites files), or remove it first',
      details: { out, entries: entries.length },
    });
  }
  return true;
}

/** Writes the plan's files under `out` (which must not exist or be empty); returns the paths written. */
export async function writeImportPlan(plan: ImportPlan, out: string): Promise<string[]> {
  const target = resolve(out);
  for (const f of plan.files) {
    if (f.path.startsWith('/') || f.path.split('/').some((s) => s === '..' || s === '.' || s === '')) throw new Error(`internal: import planned the path ${f.path}`);
  }
  const existed = await checkEmpty(target, out);
  let tmp: string;
  try {
    await mkdir(dirname(target), { recursive: true });
    tmp = await mkdtemp(join(dirname(target), '.promote-import-'));
  } catch (err) {
    throw unwritable(out, err);
  }
  let placing = false;
  try {
    const made = new Set<string>();
    for (const f of plan.files) {
      const path = join(tmp, f.path);
      const dir = dirname(path);
      if (!made.has(dir)) {
        await mkdir(dir, { recursive: true });
        made.add(dir);
      }
      await writeFile(path, f.content, { flag: 'wx' });
    }
    placing = true;
    // Checked empty above; rmdir (never rm -r) fails if something was written there since.
    if (existed || (await stat(target).then(() => true, () => false))) await rmdir(target);
    await rename(tmp, target);
  } catch (err) {
    await removeTree(tmp);
    const code = (err as NodeJS.ErrnoException).code;
    if (placing && (code === 'ENOTEMPTY' || code === 'EEXIST')) {
      throw new PromoteError('IMPORT_OUTPUT_NOT_EMPTY', `${out} was written to by something else while importing`, { outcome: 'usage', cause: err, hint: 'import into a directory nothing else writes to; nothing was written' });
    }
    throw unwritable(out, err);
  }
  return plan.files.map((f) => f.path);
}
