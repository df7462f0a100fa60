// Which build-time checks (build-checks.ts) a file's content needs, found by a byte search that
// packing runs on each small file it reads anyway: a file with neither mark is never parsed, and
// is not read a second time. Kept apart from build-checks.ts so packing can use it before the
// YAML and JSON Schema modules are loaded.

/** A `${params.…}` or `${promote.…}` reference may be in the content. */
export const MAY_REFERENCE = 1;
/** A Secret object may be in the content. */
export const MAY_HOLD_SECRET = 2;

/** Which checks the content needs: 0 (none, most manifests) or MAY_REFERENCE | MAY_HOLD_SECRET. */
export function contentMarks(content: Buffer): number {
  return (content.includes('{params.') || content.includes('{promote.') ? MAY_REFERENCE : 0) | (content.includes('Secret') ? MAY_HOLD_SECRET : 0);
}
