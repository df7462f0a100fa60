import { isDeepStrictEqual } from 'node:util';
import type { MatchedObject } from './match-objects.ts';
import type { SecretFound } from './secret-values.ts';
import type { Occurrence } from './walk-values.ts';

// Which occurrences are one parameter. Each place that differs is its own parameter, except
// what copies change across every object at once — the namespace (kustomize's `namespace:`) and
// labels and annotations (`labels:`, `commonAnnotations:`): the same label key, differing the
// same way in every environment, on twenty objects, is one difference, so it is one parameter.
// Fields of objects (replicas, images, hosts) are never shared, even when two differ alike:
// that they agree today is no reason to tie them together for ever — except the name of an
// object matched across differing kustomize hashes (match-objects.ts): wherever an environment
// names it (a Deployment's configMapRef, a volume), that is one parameter with the object's own
// name, so the reference and the object it refers to cannot drift apart.

export interface Parameter {
  /** Values of object fields; `include` decides whether an object is rendered at all. */
  kind: 'value' | 'include';
  /** Indices into the occurrences (none for `include`). */
  occurrences: number[];
  /** Index of the matched object it belongs to (the first occurrence's, for a shared one). */
  object: number;
  /** One per environment: the value, ABSENT (a null: drop the key), or undefined (no value needed). */
  values: unknown[];
  nullable: boolean;
  secret?: SecretFound;
  /** What a shared parameter stands for: `namespace`, `label:<key>`, `annotation:<key>`, `name:<object index>`. */
  role?: string;
}

function keyAt(o: Occurrence, fromEnd: number): string | undefined {
  const s = o.segments[o.segments.length - fromEnd];
  return s && 'key' in s ? s.key : undefined;
}

/** What an occurrence stands for across objects, if it is one of the things copies change everywhere. */
export function roleOf(o: Occurrence, object: MatchedObject): string | undefined {
  if (o.secret) return undefined;
  const strings = o.values.every((v) => v === undefined || typeof v === 'string' || typeof v === 'symbol');
  if (!strings) return undefined;
  const last = keyAt(o, 1);
  const parent = keyAt(o, 2);
  if (last === undefined) return undefined;
  if (object.ref.kind === 'Namespace' && object.ref.group === '' && o.pointer === '/metadata/name') return 'namespace';
  if (last === 'namespace' && !o.nullable) return 'namespace';
  if (parent === 'labels' || parent === 'matchLabels' || (parent === 'selector' && object.ref.kind === 'Service' && o.segments.length === 3)) return `label:${last}`;
  if (parent === 'annotations') return `annotation:${last}`;
  return undefined;
}

/** Do two value vectors agree wherever both have a value? */
function compatible(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.every((v, i) => v === undefined || b[i] === undefined || isDeepStrictEqual(v, b[i]));
}

/** The hashed object whose names, environment by environment, `o`'s values are, if any. */
function hashedNameOf(o: Occurrence, hashed: readonly { object: number; names: (string | undefined)[] }[]): number | undefined {
  if (o.secret || o.nullable) return undefined;
  const given = o.values.flatMap((v, e) => (v === undefined ? [] : [e]));
  if (given.length < 2) return undefined;
  return hashed.find((h) => given.every((e) => h.names[e] !== undefined && o.values[e] === h.names[e]))?.object;
}

export function shareParameters(occurrences: readonly Occurrence[], objects: readonly MatchedObject[]): Parameter[] {
  const out: Parameter[] = [];
  const hashed = objects.flatMap((m, object) => (m.hashedName ? [{ object, names: m.instances.map((x) => x?.ref.name) }] : []));
  occurrences.forEach((o, index) => {
    const named = hashedNameOf(o, hashed);
    const role = named === undefined ? roleOf(o, objects[o.object]!) : `name:${named}`;
    const into = role === undefined ? undefined : out.find((p) => p.role === role && compatible(p.values, o.values));
    if (into) {
      into.occurrences.push(index);
      into.values = into.values.map((v, i) => (v === undefined ? o.values[i] : v));
      into.nullable ||= o.nullable;
      return;
    }
    out.push({
      kind: 'value',
      occurrences: [index],
      object: o.object,
      values: [...o.values],
      nullable: o.nullable,
      ...(o.secret && { secret: o.secret }),
      ...(role !== undefined && { role }),
    });
  });
  return out;
}
