// Deterministic JSON: object keys sorted by UTF-16 code unit order (what Array.prototype.sort
// does, and what Go's encoding/json does for ASCII keys), no insignificant whitespace. Manifests
// and configs are content-addressed, so the same value must always serialise to the same bytes.
// (A subset of RFC 8785: we never serialise non-integral numbers here.)

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}
