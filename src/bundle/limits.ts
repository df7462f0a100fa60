// What a bundle may hold, defined once: `promote build` refuses what `promote pull` and the agent
// would refuse (issue 12 §16), so an artefact that was built, signed and promoted is never
// turned away at the cluster. The reader (extract.ts) and the renderer (render.ts) use these
// same constants and predicates; README "Bundles" documents the figures.

/** Largest single file: 256 MiB. Config files are small; this stops a decompression bomb early. */
export const MAX_ENTRY_BYTES = 256 * 1024 * 1024;
/** Largest total of all file contents: 1 GiB. */
export const MAX_TOTAL_BYTES = 1024 * 1024 * 1024;
/** Most entries (files + directories): 100,000. */
export const MAX_ENTRIES = 100_000;
/** Longest path in bytes: 4,096 (PATH_MAX on Linux). */
export const MAX_PATH_BYTES = 4096;
/**
 * Largest manifest (a YAML or JSON file the renderer parses into memory): 16 MiB. The largest
 * real CRD bundles are a few MiB (kube-prometheus' biggest file is 1.3 MiB); the API server
 * refuses any single object over 1.5 MiB.
 */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
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
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  if (path.split('/').includes('..')) return 'climbs out of the bundle with ".."';
  return undefined;
}
