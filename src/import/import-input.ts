import { PromoteError } from '../errors.ts';

// What `promote import` starts from: each environment's copy already rendered to Kubernetes
// objects (plain JSON values), in pipeline order. Rendering a source — a kustomize overlay, a
// chart with a values file, a directory of manifests — is the job of a thin adapter in front of
// this (issue 15's renderers), so everything below is pure and tested on plain data.

export interface ImportObject {
  /** Where the object came from (an overlay, a file), for messages. */
  source?: string;
  value: Record<string, unknown>;
}

/** An object the source renders that the import leaves out on purpose (a helm hook or test). */
export interface LeftOut {
  /** The template or file it came from. */
  source: string;
  object: string;
  /** Why, the same for every object of its kind: `a helm test, which a bundle does not apply`. */
  reason: string;
}

export interface ImportEnvironment {
  name: string;
  objects: ImportObject[];
  /** Rendered by the source but not imported, each reported as a warning. */
  leftOut?: LeftOut[];
}

/** Which Kubernetes object a value is: what `kubectl` would call it. */
export interface ObjectRef {
  /** The API group, '' for the core group (`v1`). */
  group: string;
  kind: string;
  namespace?: string;
  name: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `Deployment.apps dev/backend`, `Namespace dev`: how reports name an object. */
export function describeObject(ref: ObjectRef): string {
  return `${ref.kind}${ref.group ? `.${ref.group}` : ''} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

/** The identity of an object inside one environment: group, kind, namespace, name. */
export function objectKey(ref: ObjectRef): string {
  return JSON.stringify([ref.group, ref.kind, ref.namespace ?? '', ref.name]);
}

/** The ref of a value, or why it is not a Kubernetes object. */
export function refOf(value: unknown): ObjectRef | { error: string } {
  if (!isObject(value)) return { error: 'it is not a mapping' };
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') return { error: 'it has no apiVersion' };
  if (typeof kind !== 'string' || kind === '') return { error: 'it has no kind' };
  const name = isObject(metadata) ? metadata.name : undefined;
  if (typeof name !== 'string' || name === '') return { error: `the ${kind} has no metadata.name` };
  const namespace = isObject(metadata) && typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : undefined;
  const slash = apiVersion.lastIndexOf('/');
  return { group: slash < 0 ? '' : apiVersion.slice(0, slash), kind, ...(namespace !== undefined && { namespace }), name };
}

export interface CheckedEnvironment {
  name: string;
  objects: { ref: ObjectRef; value: Record<string, unknown>; source?: string }[];
}

/**
 * Every environment named as a DNS label (its file is environments/<name>.yaml), each name once,
 * each object a Kubernetes object, none twice in one environment.
 */
export function checkEnvironments(environments: readonly ImportEnvironment[]): CheckedEnvironment[] {
  if (environments.length === 0) {
    throw new PromoteError('IMPORT_NO_ENVIRONMENTS', 'nothing to import: no environment was given', { outcome: 'usage', hint: 'name one source per environment, in pipeline order (e.g. overlays/dev overlays/staging overlays/production)' });
  }
  const seen = new Set<string>();
  return environments.map((env) => {
    if (!isDnsLabel(env.name)) {
      throw new PromoteError('IMPORT_ENVIRONMENT_NAME_INVALID', `"${env.name}" cannot name an environment`, { outcome: 'usage', hint: 'environment names are DNS labels: lower-case letters, digits and "-" (the file is environments/<name>.yaml); name the source explicitly, e.g. dev=overlays/dev' });
    }
    if (seen.has(env.name)) {
      throw new PromoteError('IMPORT_ENVIRONMENT_DUPLICATE', `two sources are both environment "${env.name}"`, { outcome: 'usage', hint: 'give each source its own environment name, e.g. staging=overlays/staging production=overlays/production', details: { environment: env.name } });
    }
    seen.add(env.name);
    const keys = new Map<string, string | undefined>();
    const objects = env.objects.map((o, i) => {
      const ref = refOf(o.value);
      const where = `object ${i + 1} of environment "${env.name}"${o.source ? ` (${o.source})` : ''}`;
      if ('error' in ref) {
        throw new PromoteError('IMPORT_OBJECT_INVALID', `${where} is not a Kubernetes object: ${ref.error}`, { outcome: 'verification', hint: 'every rendered document must have apiVersion, kind and metadata.name', details: { environment: env.name, index: i } });
      }
      const key = objectKey(ref);
      if (keys.has(key)) {
        const first = keys.get(key);
        throw new PromoteError('IMPORT_OBJECT_DUPLICATE', `environment "${env.name}" has ${describeObject(ref)} twice${first || o.source ? ` (${[first, o.source].filter(Boolean).join(' and ')})` : ''}`, {
          outcome: 'verification',
          hint: 'an environment applies each object once; remove the copy the source does not mean',
          details: { environment: env.name, object: describeObject(ref) },
        });
      }
      keys.set(key, o.source);
      return { ref, value: o.value, ...(o.source !== undefined && { source: o.source }) };
    });
    return { name: env.name, objects };
  });
}
