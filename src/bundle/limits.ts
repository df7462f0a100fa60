// The documented limits of a bundle (README "Bundles"), in one place so that every path that
// reads a bundle — pull, inspect, render, the agent — and the build that must refuse what they
// refuse agree on them (issue 12 §16: an artefact that was built, signed and promoted is never
// turned away at the cluster). They bound memory, not just disk: what is streamed (file contents) may be
// large; what is held or parsed whole (paths, manifests) is bounded much more tightly, so that
// reading any bundle within these limits stays under BUNDLE_READ_RSS_GOAL_BYTES of memory.

/** Largest single file: 256 MiB. Streamed everywhere (extract, hash, copy), never held whole. */
export const BUNDLE_MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Largest total of all file contents: 1 GiB. */
export const BUNDLE_MAX_TOTAL_BYTES = 1024 * 1024 * 1024;
/** Most entries: files, directories, and the directories their paths imply: 100,000. */
export const BUNDLE_MAX_ENTRIES = 100_000;
/** Longest path in bytes: 4,096 (PATH_MAX on Linux). */
export const BUNDLE_MAX_PATH_BYTES = 4096;
/**
 * All paths together (implied directories included), in bytes: 16 MiB. Readers keep every path
 * (duplicate and file/directory checks, the file list); 100,000 paths of 4 KiB would be 400 MiB.
 */
export const BUNDLE_MAX_PATHS_BYTES = 16 * 1024 * 1024;
/**
 * Largest manifest the renderer parses (a `.yaml`/`.yml`/`.json` or other text file under
 * spec.manifests): 4 MiB. A parsed YAML file takes many times its size in memory; the API server
 * itself refuses objects over ~1.5 MiB. Binary files under manifests/ and everything under
 * spec.files are shipped verbatim and streamed, so only BUNDLE_MAX_FILE_BYTES applies to them.
 */
export const BUNDLE_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** All rendered manifests together: 16 MiB (a render holds every document at once to apply it). */
export const BUNDLE_MAX_MANIFESTS_TOTAL_BYTES = 16 * 1024 * 1024;

/** The memory budget these limits are chosen for (the agent's Deployment allows 512 Mi). */
export const BUNDLE_READ_RSS_GOAL_BYTES = 256 * 1024 * 1024;

/** Alias expansions per manifest document (yaml's maxAliasCount): real manifests share anchors, a "billion laughs" does not get far. */
export const MAX_MANIFEST_ALIAS_COUNT = 1000;

/**
 * Why a bundle-relative path can never be an entry of a bundle, or undefined when it can: the
 * rules pull applies to every tar entry (extract.ts) and build to every file it walks.
 */
export function entryPathProblem(path: string): string | undefined {
  if (path.includes('\0')) return 'contains a NUL byte';
  if (path.includes('\\')) return 'contains a backslash (a path separator on Windows)';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'is an absolute path';
  if (Buffer.byteLength(path) > BUNDLE_MAX_PATH_BYTES) return `is longer than ${BUNDLE_MAX_PATH_BYTES} bytes`;
  if (path.split('/').includes('..')) return 'climbs out of the bundle with ".."';
  return undefined;
}
