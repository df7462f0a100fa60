import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from './objects.ts';

// Cheap "is this already applied?" before any write: every field the bundle sets must already
// have that value live. The server adds defaults (and other managers add fields), so this is a
// subset test, recursive into list items position by position. A false "no" costs one dry-run
// request; a false "yes" is impossible for fields we set, which is what SSA would change.

export function isSubset(want: unknown, live: unknown): boolean {
  if (want === null || typeof want !== 'object') {
    if (isDeepStrictEqual(want, live)) return true;
    // The API server normalises some scalars: int-or-string ports, quantities written as numbers.
    return (typeof want === 'number' && typeof live === 'string' && String(want) === live) ||
      (typeof want === 'string' && typeof live === 'number' && want === String(live));
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(live) || live.length !== want.length) return false;
    return want.every((w, i) => isSubset(w, live[i]));
  }
  if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
  const l = live as Record<string, unknown>;
  for (const [k, v] of Object.entries(want as Record<string, unknown>)) {
    // An explicit null or empty value in a manifest means "unset": the server drops it.
    if (v === null && (l[k] === undefined || l[k] === null)) continue;
    if (!(k in l)) {
      if (isEmpty(v)) continue;
      return false;
    }
    if (!isSubset(v, l[k])) return false;
  }
  return true;
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

/** The object without the fields the server changes on every write or that we never set. */
export function comparable(o: KubeObject): unknown {
  const { metadata, status: _status, ...rest } = o;
  const { managedFields: _m, resourceVersion: _rv, generation: _g, creationTimestamp: _c, uid: _u, selfLink: _s, ...meta } = metadata;
  return { ...rest, metadata: meta };
}

export function managers(o: KubeObject): { manager: string; operation: string; subresource?: string }[] {
  const mf = o.metadata.managedFields;
  return Array.isArray(mf) ? (mf as { manager: string; operation: string; subresource?: string }[]) : [];
}
