import { parameterDifferences } from '../params/parameter-diff.ts';
import type { PromotionRecord } from '../records/promotion-record.ts';

// What changed between two promotion records' parameters: the environment's values and each
// cluster's merged values (params/parameter-diff.ts compares the values).

/** A change of the record's parameters: the pointer, and the clusters it changed for when not the environment's own value. */
export interface ParameterChange {
  pointer: string;
  /** Set when the environment-level value did not change, only these clusters' merged values. */
  clusters?: string[];
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
