import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The one directory every cache of promote lives under: ledger clones, an agent's bundles and
 * its replay state. PROMOTE_CACHE_DIR, else $XDG_CACHE_HOME/promote, else ~/.cache/promote.
 */
export function promoteCacheRoot(env: NodeJS.ProcessEnv): string {
  return env.PROMOTE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'promote');
}
