// Digests as people read them: the algorithm and the first 12 hex digits (`sha256:0123456789ab`),
// as git shortens commits. One function so every command shortens alike; the forms are the ones
// the output already uses, and scripts read the full digest from --output json.

/**
 * - `prefixed` (default): `sha256:0123456789ab`, for messages and gate summaries;
 * - `elided`: the same with `…` when something was cut, where the text reads as a sentence;
 * - `hex`: the 12 hex digits alone, for the columns of `promote status`.
 * No digest (undefined or empty) is `-`, as in a table cell.
 */
export function shortDigest(digest: string | undefined, form: 'prefixed' | 'elided' | 'hex' = 'prefixed'): string {
  if (!digest) return '-';
  if (form === 'hex') {
    const i = digest.indexOf(':');
    return digest.slice(i + 1, i + 13);
  }
  const cut = digest.slice(0, 19);
  return form === 'elided' && digest.length > 19 ? `${cut}…` : cut;
}
