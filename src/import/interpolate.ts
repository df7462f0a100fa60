import { isDeepStrictEqual } from 'node:util';
import type { Parameter } from './share-parameters.ts';

// A string that differs only by a shared value inside it — `backend.dev.svc.cluster.local`,
// `backend.staging.svc.cluster.local` — is written as text around that parameter,
// "backend.${params.namespace}.svc.cluster.local", instead of being a parameter of its own: the
// difference it carries is the namespace, and a new environment then sets the namespace once.

/** Shorter shared values would be found by accident inside unrelated strings. */
const MIN_SHARED_LENGTH = 3;

/** Can `p` be found inside other strings: shared by objects, a distinct string in every environment that has it? */
export function isInterpolatable(p: Parameter): boolean {
  if (p.kind !== 'value' || p.role === undefined || p.occurrences.length < 2 || p.nullable || p.secret) return false;
  const given = p.values.filter((v) => v !== undefined);
  return given.every((v) => typeof v === 'string' && v.length >= MIN_SHARED_LENGTH) && new Set(given).size === given.length;
}

/**
 * The text around `shared` in the strings `values` (one per environment; undefined where there is
 * none), if every one of them is the same text with that environment's shared value in it.
 */
export function interpolation(values: readonly unknown[], shared: readonly unknown[]): string[] | undefined {
  let pieces: string[] | undefined;
  for (let env = 0; env < values.length; env++) {
    const v = values[env];
    if (v === undefined) continue;
    const s = shared[env];
    if (typeof v !== 'string' || typeof s !== 'string' || !v.includes(s)) return undefined;
    const split = v.split(s);
    if (pieces === undefined) pieces = split;
    else if (!isDeepStrictEqual(pieces, split)) return undefined;
  }
  return pieces;
}
