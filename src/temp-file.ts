import { createHash, randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { removeTree } from './remove-tree.ts';

// Temporary files and directories that promote writes *beside* its output (so the final rename
// is atomic) carry their writer in the name: `.<name>.<pid>-<space>-<instance>.<random>.<kind>`.
// A process killed with SIGKILL (or a power cut) runs no cleanup, so the next writer into that
// directory removes what is left — but only what it can prove is abandoned, because another
// live process (a second agent, a `promote pull` next door) may be half-way through its own write:
//   - `space` names the pid namespace (hostname + /proc/self/ns/pid): a pid means something only
//     where it was taken. Another host, another container: the pid cannot be checked.
//   - `instance` is random per process: a restarted container's agent is pid 1 again, and its
//     predecessor's files must not look like its own.
// Abandoned = same space and (the pid is gone, or it is our pid with another instance), or, from
// anywhere, untouched for longer than MAX_TEMP_AGE_MS (a writer touches its file until the rename).

export type TempKind = 'promote-tmp' | 'promote-pull';

/** A temp file nobody has touched for this long is abandoned whoever wrote it. */
export const MAX_TEMP_AGE_MS = 60 * 60_000;

function pidSpace(): string {
  let ns = '';
  try {
    ns = readlinkSync('/proc/self/ns/pid'); // e.g. "pid:[4026531836]"; absent off Linux
  } catch {
    // no procfs: the hostname alone
  }
  return createHash('sha256').update(`${hostname()}\0${ns}`).digest('hex').slice(0, 8);
}

const SPACE = pidSpace();
const INSTANCE = randomBytes(4).toString('hex');

const NAME = /^\.(.*)\.(\d{1,10})-([0-9a-f]{8})-([0-9a-f]{8})\.[0-9a-f]{8}\.(promote-tmp|promote-pull)$/;
/** Names written by earlier versions, which carry no owner: removed on age alone. */
const LEGACY = [/^\.[0-9a-f]{12}\.promote-tmp$/, /^\.promote-tmp-[0-9a-f-]{36}$/];

/** The name of a new temp file for `name` (kept short: NAME_MAX is 255 bytes). */
export function tempName(name: string, kind: TempKind = 'promote-tmp'): string {
  const short = [...name].slice(0, 48).join('');
  return `.${short}.${process.pid}-${SPACE}-${INSTANCE}.${randomBytes(4).toString('hex')}.${kind}`;
}

/** True for any name tempName() makes or an earlier version made (whatever its owner). */
export function isTempName(name: string): boolean {
  return NAME.test(name) || LEGACY.some((re) => re.test(name));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, belongs to someone else
  }
}

/** Is the temp file `name`, last modified at `mtimeMs`, abandoned by its writer? */
export function abandoned(name: string, mtimeMs: number, now = Date.now()): boolean {
  if (now - mtimeMs > MAX_TEMP_AGE_MS) return isTempName(name);
  const m = NAME.exec(name);
  if (!m || m[3] !== SPACE) return false;
  const pid = Number(m[2]);
  if (pid === process.pid) return m[4] !== INSTANCE;
  return !alive(pid);
}

/**
 * Removes the abandoned temp files (and temp directories, of `promote-pull`) directly in `dir`;
 * never anything else, never a live writer's. `keep` names entries that must stay whatever they
 * look like (files an inventory owns). Best effort: returns what it removed.
 */
export async function sweepTemps(dir: string, keep: ReadonlySet<string> = new Set()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (keep.has(name) || !isTempName(name)) continue;
    const path = join(dir, name);
    try {
      const st = await lstat(path);
      if (!abandoned(name, st.mtimeMs)) continue;
      if (st.isDirectory() && !name.endsWith('.promote-pull')) continue;
      await removeTree(path);
      removed.push(name);
    } catch {
      // gone already, or not ours to remove: leave it
    }
  }
  return removed;
}
