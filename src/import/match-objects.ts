import type { CheckedEnvironment, ObjectRef } from './import-input.ts';

// Which objects of the environments are the same object: the same API group, kind, namespace and
// name. Two things copies commonly change are allowed for, because otherwise nothing would match:
// - The namespace (kustomize's `namespace:` per overlay, a folder per namespace): an object named
//   alike once in each of two environments ties their namespaces together, so `backend` in `dev`
//   and `backend` in `staging` are one object whose namespace differs — and the Namespace objects
//   `dev` and `staging` are one Namespace. The tie is refused when it would give one environment
//   two namespaces for one, so a real second namespace stays itself.
// - A name suffixed with kustomize's generated hash (`redis-config-bd2fcfgt6k`): objects that
//   differ only in it are matched, and the caller is told (the hash follows content the bundle no
//   longer derives it from).

export interface MatchedObject {
  /** As in the first environment that has it. */
  ref: ObjectRef;
  /** One entry per environment, in pipeline order; undefined where the environment lacks it. */
  instances: ({ ref: ObjectRef; value: Record<string, unknown>; source?: string } | undefined)[];
  /** Matched across a differing kustomize name hash. */
  hashedName?: boolean;
}

/** kustomize's name hash: 10 characters of hex with 0, 1, 3, a, e re-coded (api/hasher encode()). */
const NAME_HASH = /-[2456789bcdfghkmt]{10}$/;

/** The name an object matched across differing hashes goes by: without the hash (`redis-config`). */
export function baseName(m: MatchedObject): string {
  return m.hashedName ? m.ref.name.replace(NAME_HASH, '') : m.ref.name;
}

/** (environment, namespace) pairs grouped into classes of "the same namespace". */
class NamespaceClasses {
  private readonly classOf = new Map<string, number>();
  private readonly members: Map<number, string>[] = [];

  private key(env: number, ns: string): string {
    return `${env}\u0000${ns}`;
  }

  private ensure(env: number, ns: string): number {
    const k = this.key(env, ns);
    let c = this.classOf.get(k);
    if (c === undefined) {
      c = this.members.length;
      this.members.push(new Map([[env, ns]]));
      this.classOf.set(k, c);
    }
    return c;
  }

  /** Joins two pairs' classes unless that would give an environment two namespaces in one class. */
  tie(a: [number, string], b: [number, string]): void {
    const ca = this.ensure(...a);
    const cb = this.ensure(...b);
    if (ca === cb) return;
    const ma = this.members[ca]!;
    const mb = this.members[cb]!;
    for (const env of mb.keys()) if (ma.has(env)) return;
    for (const [env, ns] of mb) {
      ma.set(env, ns);
      this.classOf.set(this.key(env, ns), ca);
    }
    mb.clear();
  }

  /** A name for the class of a pair: the same for every pair tied to it. */
  canonical(env: number, ns: string): string {
    const c = this.classOf.get(this.key(env, ns));
    return c === undefined ? `=${ns}` : `#${c}`;
  }
}

function namespaceClasses(envs: readonly CheckedEnvironment[]): NamespaceClasses {
  const classes = new NamespaceClasses();
  // The namespaces an environment has: those its objects are in, and its Namespace objects.
  const namespaces = envs.map((e) => new Set(e.objects.flatMap((o) => (o.ref.namespace !== undefined ? [o.ref.namespace] : o.ref.kind === 'Namespace' && o.ref.group === '' ? [o.ref.name] : []))));
  // Namespaces named alike first: a namespace that keeps its name keeps its identity.
  for (let i = 1; i < envs.length; i++) for (const ns of namespaces[i]!) for (let j = 0; j < i; j++) if (namespaces[j]!.has(ns)) classes.tie([j, ns], [i, ns]);
  // Then objects named alike once in each of two environments, in different namespaces.
  const once = new Map<string, Map<number, string>>();
  envs.forEach((env, i) => {
    const count = new Map<string, number>();
    const nsOf = new Map<string, string>();
    for (const o of env.objects) {
      if (o.ref.namespace === undefined) continue;
      const k = JSON.stringify([o.ref.group, o.ref.kind, o.ref.name]);
      count.set(k, (count.get(k) ?? 0) + 1);
      nsOf.set(k, o.ref.namespace);
    }
    for (const [k, n] of count) {
      if (n !== 1) continue;
      if (!once.has(k)) once.set(k, new Map());
      once.get(k)!.set(i, nsOf.get(k)!);
    }
  });
  for (const perEnv of once.values()) {
    const list = [...perEnv];
    for (let x = 1; x < list.length; x++) classes.tie(list[0]!, list[x]!);
  }
  return classes;
}

export function matchObjects(envs: readonly CheckedEnvironment[]): MatchedObject[] {
  const classes = namespaceClasses(envs);
  const byKey = new Map<string, MatchedObject>();
  const groups: MatchedObject[] = [];
  envs.forEach((env, i) => {
    for (const o of env.objects) {
      const ns = o.ref.namespace === undefined ? '' : classes.canonical(i, o.ref.namespace);
      const name = o.ref.kind === 'Namespace' && o.ref.group === '' ? classes.canonical(i, o.ref.name) : o.ref.name;
      const key = JSON.stringify([o.ref.group, o.ref.kind, ns, name]);
      let group = byKey.get(key);
      if (!group || group.instances[i]) {
        group = { ref: o.ref, instances: envs.map(() => undefined) };
        byKey.set(key, group);
        groups.push(group);
      }
      group.instances[i] = o;
    }
  });
  return mergeHashedNames(groups, classes);
}

/** Objects present in only some environments that differ from each other only in a kustomize name hash: one object. */
function mergeHashedNames(groups: MatchedObject[], classes: NamespaceClasses): MatchedObject[] {
  const out: MatchedObject[] = [];
  const partial = new Map<string, MatchedObject[]>();
  for (const g of groups) {
    const missing = g.instances.some((x) => x === undefined);
    if (!missing || !NAME_HASH.test(g.ref.name)) {
      out.push(g);
      continue;
    }
    const i = g.instances.findIndex((x) => x !== undefined);
    const ns = g.ref.namespace === undefined ? '' : classes.canonical(i, g.ref.namespace);
    const k = JSON.stringify([g.ref.group, g.ref.kind, ns, g.ref.name.replace(NAME_HASH, '')]);
    const candidates = partial.get(k) ?? [];
    const into = candidates.find((c) => c.instances.every((x, e) => x === undefined || g.instances[e] === undefined));
    if (into) {
      g.instances.forEach((x, e) => {
        if (x) into.instances[e] = x;
      });
      into.hashedName = true;
      continue;
    }
    candidates.push(g);
    partial.set(k, candidates);
    out.push(g);
  }
  return out;
}
