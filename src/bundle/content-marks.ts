// Which build-time checks (build-checks.ts) a file's content needs, found by a byte search that
// packing runs on each small file it reads anyway: a file with neither mark is never parsed, and
// is not read a second time. Kept apart from build-checks.ts so packing can use it before the
// YAML and JSON Schema modules are loaded.

/** A `${params.…}` or `${promote.…}` reference may be in the content. */
export const MAY_REFERENCE = 1;
/** A Secret object may be in the content. */
export const MAY_HOLD_SECRET = 2;

/**
 * Which checks the content needs: 0 (none, most files) or MAY_REFERENCE | MAY_HOLD_SECRET. A
 * YAML reader can read the word Secret from text without those bytes only through an escape
 * (`"\x53ecret"`, `"Sec\⏎ret"`: a backslash) or another encoding (UTF-16, which starts with a
 * byte-order mark): both mark the file too, so the search never misses one (issue 12 §9).
 */
export function contentMarks(content: Buffer): number {
  const secret = content.includes('Secret') || content.includes(0x5c) || (content.length >= 2 && ((content[0] === 0xff && content[1] === 0xfe) || (content[0] === 0xfe && content[1] === 0xff)));
  return (content.includes('{params.') || content.includes('{promote.') ? MAY_REFERENCE : 0) | (secret ? MAY_HOLD_SECRET : 0);
}
