import { formatPointer, pointerSegments } from '../params/pointer.ts';
import type { PromotionRecord } from '../records/promotion-record.ts';

// What changed between two sets of parameter values, named by JSON pointer (RFC 6901) as every
// other problem and path in promote is. A secret parameter only ever holds a reference,
// {secretRef: {name, key}} (src/params/parameter-schema.ts); it is compared and shown as one
// value — by name — and anything else found at a secret's place is masked, never printed.

export interface ParameterDifference {
  /** JSON pointer into the parameter values, e.g. `/replicas` or `/db/port`. */
  pointer: string;
  before?: unknown;
  after?: unknown;
}

/** A change of the record's parameters: the pointer, and the clusters it changed for when not the environment's own value. */
export interface ParameterChange {
  pointer: string;
  /** Set when the environment-level value did not change, only these clusters' merged values. */
  clusters?: string[];
}

export const MASKED = '(secret value, not shown)';

function isSecretRef(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'secretRef';
}

/** `secrets` patterns are pointers where `*` stands for any key or index. */
function isSecretPointer(segments: string[], secrets: string[][]): boolean {
  return secrets.some((s) => s.length === segments.length && s.every((p, i) => p === '*' || p === segments[i]));
}

/** Leaves by pointer: the value compared, and the value shown (masked where it must not be). */
function flatten(value: unknown, segments: string[], secrets: string[][], out: Map<string, { value: unknown; shown: unknown }>): void {
  const secret = isSecretPointer(segments, secrets);
  if (!secret && !isSecretRef(value) && value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, [...segments, k], secrets, out);
  } else if (segments.length) {
    out.set(formatPointer(segments), { value, shown: secret && !isSecretRef(value) ? MASKED : value });
  }
}

/**
 * Leaf by leaf (objects are walked; lists and secret references are one value each), sorted by
 * pointer. `secrets` are the schema's secret pointers (ParameterSchema.secrets).
 */
export function parameterDifferences(before: Record<string, unknown>, after: Record<string, unknown>, secrets: string[] = []): ParameterDifference[] {
  const patterns = secrets.map(pointerSegments);
  const a = new Map<string, { value: unknown; shown: unknown }>();
  const b = new Map<string, { value: unknown; shown: unknown }>();
  flatten(before, [], patterns, a);
  flatten(after, [], patterns, b);
  const out: ParameterDifference[] = [];
  for (const pointer of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(pointer);
    const y = b.get(pointer);
    if (x && y && JSON.stringify(x.value) === JSON.stringify(y.value)) continue;
    out.push({ pointer, ...(x && { before: x.shown }), ...(y && { after: y.shown }) });
  }
  return out;
}

type Values = Pick<PromotionRecord, 'parameters' | 'clusters'>;

/**
 * The pointers whose value differs between two records' parameters: the environment's own
 * values, then each cluster's merged values (a change of one cluster's override names that
 * cluster). What the ledger's `Parameters-Changed:` trailers list; values are never included.
 */
export function changedParameters(before: Values, after: Values): ParameterChange[] {
  const environment = new Set(parameterDifferences(before.parameters, after.parameters).map((d) => d.pointer));
  const perCluster = new Map<string, Set<string>>();
  const previous = new Map(before.clusters.map((c) => [c.name, c.parameters]));
  for (const c of after.clusters) {
    for (const d of parameterDifferences(previous.get(c.name) ?? before.parameters, c.parameters)) {
      if (environment.has(d.pointer)) continue;
      let clusters = perCluster.get(d.pointer);
      if (!clusters) perCluster.set(d.pointer, (clusters = new Set()));
      clusters.add(c.name);
    }
  }
  const out: ParameterChange[] = [...environment].map((pointer) => ({ pointer }));
  for (const [pointer, clusters] of perCluster) out.push({ pointer, clusters: [...clusters].sort() });
  return out.sort((x, y) => (x.pointer < y.pointer ? -1 : x.pointer > y.pointer ? 1 : 0));
}

/** `/replicas` or `/hostname (cluster staging-us-1)`: one trailer value, one history line item. */
export function describeChange(c: ParameterChange): string {
  return c.clusters ? `${c.pointer} (cluster${c.clusters.length === 1 ? '' : 's'} ${c.clusters.join(', ')})` : c.pointer;
}
