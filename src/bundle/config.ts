import { PromoteError } from '../errors.ts';
import { checkDepth } from '../oci/json-depth.ts';
import { parseRecordedRenderer } from './renderers/kinds.ts';

// The bundle config blob (`application/vnd.promote.bundle.config.v1+json`). It carries the
// parameter schema itself so that `validate`, `plan` and `to` read a few KiB and never the
// content layer: promotion stays O(1) in bundle size (DESIGN.md §4 "In the registry").
// Serialised with sorted keys (canonical-json.ts), so it is part of the reproducible digest.

export interface BundleConfig {
  name: string;
  /** RFC 3339 UTC, from SOURCE_DATE_EPOCH or the git commit time; never the clock. */
  created: string;
  version?: string;
  description?: string;
  /** The parameter JSON Schema (2020-12), verbatim from the bundle's schema file. */
  parameterSchema: object;
  /** Bundle-relative directory rendered with parameters (from bundle.yaml spec.manifests). */
  manifests: string;
  /** Bundle-relative directory shipped verbatim (spec.files), if any. */
  files?: string;
  /**
   * The renderer (bundle.yaml spec.helm / spec.kustomize) with its spec; absent for the plain
   * renderer, so a plain bundle's config (and digest) is what it was before renderers existed.
   */
  renderer?: { kind: string } & Record<string, unknown>;
}

/** Parses and checks a config blob read from a registry; `where` names it in errors. */
export function parseBundleConfig(bytes: Uint8Array, where: string): BundleConfig {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw invalidConfig(where, `it is not JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidConfig(where, 'it is not a JSON object');
  checkDepth(value, `the bundle config of ${where}`);
  const c = value as Record<string, unknown>;
  for (const key of ['name', 'created', 'manifests'] as const) {
    if (typeof c[key] !== 'string') throw invalidConfig(where, `"${key}" is missing or not a string`);
  }
  // The name becomes a directory name (`promote pull` defaults to ./<name>): it must be the DNS
  // label bundle.yaml requires, never a path such as "../x" from a crafted artefact.
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(c.name as string)) throw invalidConfig(where, `"name" ${JSON.stringify(c.name)} is not a DNS label`);
  const schema = c.parameterSchema;
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) throw invalidConfig(where, '"parameterSchema" is missing or not an object');
  for (const key of ['version', 'description', 'files'] as const) {
    if (c[key] !== undefined && typeof c[key] !== 'string') throw invalidConfig(where, `"${key}" is not a string`);
  }
  // Directory names inside the bundle (readers join them to an extraction directory).
  for (const key of ['manifests', 'files'] as const) {
    const path = c[key];
    if (typeof path === 'string' && (path === '' || path.startsWith('/') || path.includes('\\') || path.split('/').includes('..'))) {
      throw invalidConfig(where, `"${key}" ${JSON.stringify(path)} is not a relative path inside the bundle`);
    }
  }
  // Checked here, once, like the paths above: every reader takes the renderer from this blob.
  parseRecordedRenderer(c.renderer, where);
  return value as BundleConfig;
}

function invalidConfig(where: string, why: string): PromoteError {
  return new PromoteError('BUNDLE_CONFIG_INVALID', `the bundle config of ${where} is not valid: ${why}`, {
    outcome: 'verification',
    hint: 'the artefact is not a promote bundle or was built by an incompatible version; rebuild it with `promote build`',
  });
}
