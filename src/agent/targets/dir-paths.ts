import { mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { PromoteError } from '../../errors.ts';
import { isTempName } from '../../temp-file.ts';
import { INVENTORY_FILE } from './dir-inventory.ts';

// Where the dir target may write: bundle paths stay inside the directory, and no symbolic link
// planted in it (`manifests -> /etc`) may redirect a write or a prune outside it.

export function checkPath(path: string): string {
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

/** Where a file's parent directory really is: `escapesTo` when a symbolic link leads it outside the target. */
export interface ParentCheck {
  parent: string | undefined;
  escapesTo?: string;
}

/**
 * The parent directory of `rel`, created if needed, after checking that it really is inside the
 * target: a symbolic link planted in the target (`manifests -> /etc`) must not redirect a write
 * or a prune outside it. `made` collects the first directory mkdir had to create.
 */
export async function safeParent(root: string, rel: string, create = true, made?: string[], checked?: Map<string, Promise<ParentCheck>>): Promise<string | undefined> {
  const parent = dirname(join(root, rel));
  let found = checked?.get(parent);
  if (!found) {
    // One apply asks for the same few directories 99,000 times: each is checked once per apply.
    found = checkParent(root, parent, create, made);
    if (checked) {
      checked.set(parent, found);
      found.catch(() => checked.delete(parent));
    }
  }
  const { escapesTo } = await found;
  if (escapesTo !== undefined) {
    throw new PromoteError('TARGET_PATH_ESCAPES', `${join(root, rel)} leads outside ${root} (through a symbolic link to ${escapesTo})`, {
      hint: 'remove the symbolic link from the target directory; the agent only writes inside it',
    });
  }
  return (await found).parent;
}

async function checkParent(root: string, parent: string, create: boolean, made?: string[]): Promise<ParentCheck> {
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
  const realRoot = await realpath(root);
  const inside = relative(realRoot, realParent);
  if (inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) return { parent, escapesTo: realParent };
  return { parent };
}
