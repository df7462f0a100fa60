import { readBudget } from '../cel/read-budget.ts';
import type { PolicyRule, RuleMatch } from './rule.ts';

// Judging rendered objects by rules, as an admission webhook would judge them at apply time but
// before anything is promoted or applied. Each rule runs over each object it matches; false is a
// violation with the rule's message, and an expression that cannot be evaluated (a field the
// object does not have, a value of the wrong type) is a violation too, saying the error:
// ValidatingAdmissionPolicy's failurePolicy Fail, so a rule that cannot judge never lets through.
// Reads of the rendered objects are counted over the whole evaluation (cel/read-budget.ts): past
// the budget, judging stops with a violation that says so, since a policy that cannot finish
// judging refuses.

/** One object of the rendered manifests (structurally pipeline/gate.ts RenderedObject). */
export interface PolicyObject {
  file: string;
  index: number;
  object: Record<string, unknown>;
}

/** What one cluster renders to (structurally pipeline/gate.ts RenderedCluster). */
export interface PolicyCluster {
  cluster: string;
  objects: PolicyObject[];
}

/** The `promote` variable of an expression (per cluster: `cluster` is set for each). */
export interface PromoteVariables {
  stage: string;
  digest: string;
}

export interface Violation {
  cluster: string;
  /** `Deployment podinfo/podinfo`, `ClusterRole admin` (no namespace). */
  object: string;
  file: string;
  index: number;
  rule: string;
  message: string;
  /** Set when the expression could not be evaluated (the message says why). */
  error?: true;
}

export interface PolicyReport {
  clusters: number;
  /** Objects judged, summed over clusters. */
  objects: number;
  /** The first `limit` violations, in cluster, file, document and rule order. */
  violations: Violation[];
  /** Violations found beyond those kept. */
  more: number;
  /** Rules that matched no object in any cluster: not a failure, but worth a look (a typo in `kinds`?). */
  unmatched: string[];
  /** Set when judging stopped at the read budget (the last violation says where); what follows was not judged. */
  budgetExceeded?: true;
}

/** How many violations a report keeps (the rest are counted). */
export const MAX_VIOLATIONS = 1000;
/** Reads of rendered objects' fields one evaluation may make, over all its objects and rules (docs/policy.md). */
export const MAX_READS = 5_000_000;
/** A CEL error text is cut to this many characters (errors quote no values, but stay bounded). */
const MAX_ERROR = 300;

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function metadata(object: Record<string, unknown>): Record<string, unknown> {
  const m = object.metadata;
  return typeof m === 'object' && m !== null && !Array.isArray(m) ? (m as Record<string, unknown>) : {};
}

/** How an object is named in a violation: `Kind namespace/name`. */
export function objectId(object: Record<string, unknown>): string {
  const m = metadata(object);
  const kind = text(object.kind) ?? '(no kind)';
  const name = text(m.name) ?? '(no name)';
  const ns = text(m.namespace);
  return ns ? `${kind} ${ns}/${name}` : `${kind} ${name}`;
}

function listed(list: string[] | undefined, value: string | undefined): boolean {
  if (!list) return true;
  return list.includes('*') || (value !== undefined && list.includes(value));
}

function apiVersionListed(list: string[] | undefined, value: string | undefined): boolean {
  if (!list) return true;
  if (value === undefined) return list.includes('*');
  const group = value.includes('/') ? value.slice(0, value.indexOf('/')) : '';
  return list.some((p) => p === '*' || p === value || (p.endsWith('/*') && p.slice(0, -2) === group));
}

/**
 * Whether a rule judges the object. An object without a namespace matches any `namespaces`: it
 * may be cluster-scoped or land in the agent's default namespace, and a policy does not skip what
 * it cannot place (a ValidatingAdmissionPolicy's namespaceSelector never skips cluster-scoped
 * objects either). A Namespace is matched by its own name, as there.
 */
export function matches(match: RuleMatch, object: Record<string, unknown>): boolean {
  const m = metadata(object);
  const kind = text(object.kind);
  const namespace = kind === 'Namespace' ? text(m.name) : text(m.namespace);
  return (
    apiVersionListed(match.apiVersions, text(object.apiVersion)) &&
    listed(match.kinds, kind) &&
    (namespace === undefined || listed(match.namespaces, namespace)) &&
    listed(match.names, text(m.name))
  );
}

export function evaluatePolicy(rules: readonly PolicyRule[], clusters: readonly PolicyCluster[], promote: PromoteVariables, limit = MAX_VIOLATIONS, maxReads = MAX_READS): PolicyReport {
  const violations: Violation[] = [];
  let more = 0;
  let objects = 0;
  const matched = new Set<string>();
  const budget = readBudget(maxReads);
  for (const { cluster, objects: list } of clusters) {
    const vars = { ...promote, cluster };
    for (const { file, index, object } of list) {
      objects++;
      for (const rule of rules) {
        if (!matches(rule.match, object)) continue;
        matched.add(rule.name);
        const r = rule.expression.test({ object: budget.meter(object), promote: vars });
        if (budget.spent()) {
          // Kept even past `limit`: the report must say why judging stopped.
          violations.push({ cluster, object: objectId(object), file, index, rule: rule.name, message: `judging stopped here: the policy read more than ${maxReads} fields of the rendered objects (a comprehension inside another over a large list?), so the rest of the render was not judged`, error: true });
          return { clusters: clusters.length, objects, violations, more, unmatched: [], budgetExceeded: true };
        }
        if (r.ok && r.value) continue;
        if (violations.length >= limit) {
          more++;
          continue;
        }
        const base = { cluster, object: objectId(object), file, index, rule: rule.name };
        if (r.ok) violations.push({ ...base, message: rule.message ?? `failed expression: ${rule.expression.source}` });
        else violations.push({ ...base, message: `the expression could not be evaluated: ${r.error.length > MAX_ERROR ? `${r.error.slice(0, MAX_ERROR)}…` : r.error}`, error: true });
      }
    }
  }
  return { clusters: clusters.length, objects, violations, more, unmatched: rules.filter((r) => !matched.has(r.name)).map((r) => r.name) };
}

/** One line per violation, as `plan` prints them: `cluster: Kind ns/name (file#index): rule: message`. */
export function violationLine(v: Violation): string {
  return `${v.cluster}: ${v.object} (${v.file}#${v.index}): ${v.rule}: ${v.message}`;
}
