import { createHash } from 'node:crypto';
import type { DesiredState } from '../../target.ts';

// From rendered files to the ordered list of objects to apply. `*List` documents (RoleList,
// ConfigMapList, …: what `kubectl get -o yaml` writes) are expanded into their items, since
// a List is not a resource the server can apply.

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export interface DesiredObject {
  object: KubeObject;
  /** `path#index` of the document it came from, for messages. */
  source: string;
}

export interface InvalidDocument {
  source: string;
  message: string;
}

export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_PIPELINE = 'promote.dev/pipeline';
export const LABEL_STAGE = 'promote.dev/stage';
export const FIELD_MANAGER = 'promote';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Apply order: CRDs, then Namespaces, then everything else in bundle order. */
function rank(o: KubeObject): number {
  if (o.kind === 'CustomResourceDefinition' && o.apiVersion.startsWith('apiextensions.k8s.io/')) return 0;
  if (o.kind === 'Namespace' && o.apiVersion === 'v1') return 1;
  return 2;
}

export function isCrd(o: KubeObject): boolean {
  return rank(o) === 0;
}

export function collectObjects(desired: DesiredState): { objects: DesiredObject[]; invalid: InvalidDocument[] } {
  const objects: DesiredObject[] = [];
  const invalid: InvalidDocument[] = [];
  const add = (doc: unknown, source: string): void => {
    if (doc === null || doc === undefined) return;
    if (!isRecord(doc) || typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') {
      invalid.push({ source, message: `${source} is not a Kubernetes object (apiVersion and kind are required)` });
      return;
    }
    if (doc.kind.endsWith('List') && Array.isArray(doc.items)) {
      doc.items.forEach((item, i) => add(item, `${source}/items/${i}`));
      return;
    }
    const meta = isRecord(doc.metadata) ? doc.metadata : {};
    if (typeof meta.name !== 'string' || meta.name === '') {
      invalid.push({ source, message: `${source}: ${doc.kind} has no metadata.name (generateName cannot be applied idempotently)` });
      return;
    }
    objects.push({ object: { ...doc, metadata: { ...meta } } as KubeObject, source });
  };
  for (const file of desired.files) {
    if (!file.documents) continue;
    file.documents.forEach((doc, i) => add(doc, `${file.path}#${i}`));
  }
  const order = objects.map((o, i) => ({ o, i })).sort((a, b) => rank(a.o.object) - rank(b.o.object) || a.i - b.i);
  return { objects: order.map((x) => x.o), invalid };
}

/** A label value: the name itself when it is a valid value, else a readable prefix + hash. */
export function labelValue(name: string): string {
  if (/^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/.test(name)) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  const prefix = name.replace(/[^-A-Za-z0-9_.]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 40).replace(/[^A-Za-z0-9]+$/, '');
  return prefix ? `${prefix}-${hash}` : hash;
}

export function ownerLabels(owner: { pipeline: string; stage: string }): Record<string, string> {
  return { [LABEL_MANAGED_BY]: 'promote', [LABEL_PIPELINE]: labelValue(owner.pipeline), [LABEL_STAGE]: labelValue(owner.stage) };
}

/** `Kind[.group] [namespace/]name`, kubectl-like and unique within a cluster. */
export function objectId(apiVersion: string, kind: string, namespace: string | undefined, name: string): string {
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  return `${kind}${group ? `.${group}` : ''} ${namespace ? `${namespace}/` : ''}${name}`;
}
