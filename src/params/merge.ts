// Per-cluster overrides are deep-merged over the environment's parameters: objects merge key by
// key, everything else (scalars, lists) is replaced whole — a list is one value, so a cluster
// never ends up with half of the environment's list (Helm's values-merging rule).

type Json = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return structuredClone(override);
  const out: Json = structuredClone(base);
  for (const [k, v] of Object.entries(override)) {
    // defineProperty: a key named `__proto__` stays a key, never a prototype.
    Object.defineProperty(out, k, { value: Object.hasOwn(out, k) ? deepMerge(out[k], v) : structuredClone(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
