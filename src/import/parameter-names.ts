import { baseName, type MatchedObject } from './match-objects.ts';
import type { Parameter } from './share-parameters.ts';
import type { Occurrence, Segment } from './walk-values.ts';

// Parameter names, from where the value is. A name is a dotted path into the parameters, so the
// schema nests (`podinfo: {deployment: {replicas: …}}`): an environment file reads as the objects
// it tunes, grouped by object, instead of a flat list of long keys. The rules:
// - a field of an object: `<object name>.<kind>.<path>` (`podinfo.deployment.replicas`), where the
//   path leaves out `spec`, `template` and `metadata` (which every object has, so they say
//   nothing) and names list items by their `name` (`containers.podinfod.image`) or as `_<index>`;
//   when leaving those out makes two names clash, both are spelt out in full;
// - a value shared across objects: `namespace`, `labels.<key>`, `annotations.<key>` (the key's
//   part after its prefix: `app.kubernetes.io/environment` → `labels.environment`), and the name
//   of an object whose kustomize hash differs, `<object name>.<kind>.name`;
// - an object matched across differing hashes is named without the hash (`redis-config`);
// - whether an object is rendered at all: `<object name>.<kind>.enabled`.
// Every segment is made a valid reference segment (template.ts: a letter or "_", then letters,
// digits, "_" and "-"). Names stay unique and none is the prefix of another (a value cannot also
// be a mapping of values); a clash that remains gets "-2", "-3"… Same input, same names.

const NOISE = new Set(['spec', 'template', 'metadata']);

/** Kinds whose names would make long paths, by their kubectl short names. */
const KIND_SHORT: Record<string, string> = {
  horizontalpodautoscaler: 'hpa',
  persistentvolumeclaim: 'pvc',
  persistentvolume: 'pv',
  poddisruptionbudget: 'pdb',
  customresourcedefinition: 'crd',
  mutatingwebhookconfiguration: 'mutatingwebhook',
  validatingwebhookconfiguration: 'validatingwebhook',
};

/** A path segment a reference can hold. */
export function segmentName(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '');
  if (cleaned === '') return '_';
  return /^[A-Za-z_]/.test(cleaned) ? cleaned : `_${cleaned}`;
}

function stepName(s: Segment): string {
  if ('key' in s) return segmentName(s.key);
  if ('item' in s) return segmentName(s.item);
  return `_${s.index}`;
}

function objectPrefixes(objects: readonly MatchedObject[]): string[][] {
  const base = objects.map((o) => [segmentName(baseName(o)), KIND_SHORT[o.ref.kind.toLowerCase()] ?? segmentName(o.ref.kind.toLowerCase())]);
  const count = new Map<string, number>();
  for (const b of base) count.set(b.join('.'), (count.get(b.join('.')) ?? 0) + 1);
  return base.map((b, i) => {
    if (count.get(b.join('.')) === 1) return b;
    const o = objects[i]!;
    return [...b, segmentName(o.ref.namespace ?? (o.ref.group || 'core'))];
  });
}

function afterPrefix(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? key : key.slice(slash + 1);
}

interface Candidates {
  short: string[];
  long: string[];
}

function candidates(p: Parameter, occurrences: readonly Occurrence[], prefixes: readonly string[][]): Candidates {
  const prefix = prefixes[p.object]!;
  if (p.kind === 'include') return { short: [...prefix, 'enabled'], long: [...prefix, 'enabled'] };
  if (p.role?.startsWith('name:')) {
    const name = [...prefixes[Number(p.role.slice('name:'.length))]!, 'name'];
    return { short: name, long: name };
  }
  if (p.role !== undefined && p.occurrences.length > 1) {
    if (p.role === 'namespace') {
      const first = p.values.find((v) => typeof v === 'string') as string | undefined;
      return { short: ['namespace'], long: ['namespaces', segmentName(first ?? 'namespace')] };
    }
    const [what, key] = [p.role.slice(0, p.role.indexOf(':')), p.role.slice(p.role.indexOf(':') + 1)];
    const group = what === 'label' ? 'labels' : 'annotations';
    return { short: [group, segmentName(afterPrefix(key))], long: [group, segmentName(key)] };
  }
  const segments = occurrences[p.occurrences[0]!]!.segments;
  const long = segments.map(stepName);
  const short = segments.filter((s) => !('key' in s && NOISE.has(s.key))).map(stepName);
  return { short: [...prefix, ...(short.length ? short : long)], long: [...prefix, ...long] };
}

/** Indices of names that clash: equal to another, or a prefix of another. */
function clashes(names: readonly string[]): Set<number> {
  const out = new Set<number>();
  const byName = new Map<string, number[]>();
  names.forEach((n, i) => byName.set(n, [...(byName.get(n) ?? []), i]));
  for (const list of byName.values()) if (list.length > 1) list.forEach((i) => out.add(i));
  names.forEach((n, i) => {
    const parts = n.split('.');
    for (let k = 1; k < parts.length; k++) {
      const prefix = byName.get(parts.slice(0, k).join('.'));
      if (prefix) {
        prefix.forEach((j) => out.add(j));
        out.add(i);
      }
    }
  });
  return out;
}

/** The dotted names of the parameters, in their order. */
export function parameterNames(parameters: readonly Parameter[], occurrences: readonly Occurrence[], objects: readonly MatchedObject[]): string[] {
  const prefixes = objectPrefixes(objects);
  const cands = parameters.map((p) => candidates(p, occurrences, prefixes));
  const names = cands.map((c) => c.short.join('.'));
  for (const i of clashes(names)) names[i] = cands[i]!.long.join('.');
  // What still clashes: the later of two equal names, or the shorter of a prefix pair, is renamed.
  for (let guard = 0; guard < 10_000; guard++) {
    const left = clashes(names);
    if (left.size === 0) return names;
    const sorted = [...left].sort((a, b) => a - b);
    const victim = sorted.find((i) => names.some((n, j) => j !== i && n.startsWith(`${names[i]}.`))) ?? sorted.find((i) => names.indexOf(names[i]!) !== i)!;
    const base = names[victim]!;
    let n = 2;
    while (names.includes(`${base}-${n}`)) n++;
    names[victim] = `${base}-${n}`;
  }
  throw new Error('internal: parameter names did not become unique');
}
