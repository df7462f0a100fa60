import { PromoteError } from '../errors.ts';

// A bundle digest as a person types it: the full `sha256:<64 hex>`, or a prefix of at least 12
// hex digits with or without `sha256:` — what `promote status` (12 digits) and `promote history`
// (`sha256:` and 12) print. A prefix stands for a digest only when exactly one digest promote can
// see in the stage's repository starts with it (git's rule for abbreviated object names).

/** As many digits as `promote status` prints: 48 bits, so a collision is a real ambiguity. */
export const MIN_DIGEST_PREFIX = 12;

export interface DigestInput {
  /** Lower-case hex digits the user gave (1–64). */
  hex: string;
  /** True when all 64 digits were given. */
  full: boolean;
  /** The input as the user typed it, for messages. */
  text: string;
}

/**
 * The digest (or digest prefix) in `input`, or undefined when `input` is a reference instead.
 * `sha256:` followed by hex is always a digest; bare hex is one from 12 digits on (shorter bare
 * words stay references, as before). Too few digits after `sha256:` is a usage error.
 */
export function parseDigestInput(input: string): DigestInput | undefined {
  const text = input.trim();
  const m = /^(sha256:)?([0-9a-fA-F]+)$/.exec(text);
  if (!m) return undefined;
  const hex = m[2]!.toLowerCase();
  if (!m[1] && hex.length < MIN_DIGEST_PREFIX) return undefined;
  if (hex.length > 64) {
    throw new PromoteError('DIGEST_INVALID', `${text} is not a sha256 digest: it has ${hex.length} hex digits, a digest has 64`, { outcome: 'usage', hint: 'copy the digest promote push printed (sha256:<64 hex digits>)' });
  }
  if (hex.length < MIN_DIGEST_PREFIX) {
    throw new PromoteError('DIGEST_TOO_SHORT', `${text} is too short to name a bundle: give at least ${MIN_DIGEST_PREFIX} hex digits`, { outcome: 'usage', hint: 'use the full digest, or the 12 digits promote status prints' });
  }
  return { hex, full: hex.length === 64, text };
}

/** The distinct candidates (full `sha256:` digests) that start with the input's digits, sorted. */
export function matchingDigests(input: DigestInput, candidates: Iterable<string>): string[] {
  const want = `sha256:${input.hex}`;
  return [...new Set(candidates)].filter((d) => d.startsWith(want)).sort();
}

/** The one digest `input` names among `candidates` in `repository`, or a usage error that says why not. */
export function pickDigest(input: DigestInput, candidates: Iterable<string>, repository: string, searched: string): string {
  const found = matchingDigests(input, candidates);
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    throw new PromoteError('BUNDLE_NOT_FOUND', `no bundle in ${repository} has a digest starting ${input.text} (looked in ${searched})`, {
      outcome: 'usage',
      hint: 'use the full digest: promote push prints it, promote history <stage> lists the ones promoted; a bundle pushed elsewhere must be copied in first (promote copy)',
      details: { input: input.text, repository },
    });
  }
  throw new PromoteError('DIGEST_AMBIGUOUS', `${input.text} is ambiguous: ${found.length} digests in ${repository} start with it: ${found.join(', ')}`, {
    outcome: 'usage',
    hint: 'use the full digest (or enough of its digits to tell them apart)',
    details: { input: input.text, repository, candidates: found },
  });
}
