import { parseBundleConfig } from '../bundle/config.ts';
import { listBundleLayer, type ListedEntry } from '../bundle/extract.ts';
import { wrapError } from '../errors.ts';
import { digestHex } from '../oci/digest.ts';
import { checkDepth } from '../oci/json-depth.ts';
import { BUNDLE_CONFIG, BUNDLE_CONTENT } from '../oci/media-types.ts';
import { openRegistry, type RegistryOptions } from '../oci/open.ts';
import { formatReference, parseReference, referenceTarget, withDigest } from '../oci/reference.ts';
import type { Descriptor, ImageManifest } from '../oci/registry.ts';

// Inspect: what an artefact is, without writing anything — the manifest and its annotations,
// for a bundle its config (minus the schema body) and its files with sizes (the content layer is
// streamed, verified and listed, never stored), and what refers to it: OCI referrers (promotion
// records, status reports, attestations) and cosign-classic signature tags.

export interface InspectOptions extends RegistryOptions {
  /** Skip downloading the content layer (no file list). */
  noFiles?: boolean;
}

export interface InspectResult {
  reference: string;
  digest: string;
  mediaType: string;
  artifactType?: string;
  size: number;
  annotations: Record<string, string>;
  manifest: unknown;
  bundle?: {
    name: string;
    created: string;
    version?: string;
    description?: string;
    manifests: string;
    files?: string;
    /** Top-level parameter names declared by the schema. */
    parameters: string[];
    layer: { digest: string; size: number };
  };
  files?: ListedEntry[];
  referrers: Descriptor[];
  /** cosign-classic tags (`sha256-<hex>.sig` …) present for this digest. */
  signatures: Array<{ tag: string; digest: string }>;
}

export async function inspect(reference: string, options: InspectOptions = {}): Promise<InspectResult> {
  const ref = parseReference(reference);
  const registry = await openRegistry(ref, options);
  try {
    const fetched = await registry.fetchManifest(referenceTarget(ref));
    const digest = fetched.descriptor.digest;
    const manifest = JSON.parse(fetched.bytes.toString('utf8')) as Partial<ImageManifest>;
    checkDepth(manifest, `the manifest ${digest}`); // it is printed (JSON.stringify recurses)
    const result: InspectResult = {
      reference: formatReference(withDigest(ref, digest)),
      digest,
      mediaType: manifest.mediaType ?? fetched.descriptor.mediaType,
      ...(manifest.artifactType !== undefined && { artifactType: manifest.artifactType }),
      size: fetched.bytes.length,
      annotations: manifest.annotations ?? {},
      manifest,
      referrers: await registry.referrers(digest),
      signatures: [],
    };
    for (const suffix of ['sig', 'att', 'sbom']) {
      const tag = `sha256-${digestHex(digest)}.${suffix}`;
      const found = await registry.resolve(tag);
      if (found) result.signatures.push({ tag, digest: found.digest });
    }
    const layer = manifest.layers?.length === 1 ? manifest.layers[0] : undefined;
    if (manifest.config?.mediaType === BUNDLE_CONFIG) {
      const config = parseBundleConfig(await registry.fetchBlobBytes(manifest.config, 4 * 1024 * 1024), result.reference);
      const properties = (config.parameterSchema as { properties?: Record<string, unknown> }).properties ?? {};
      result.bundle = {
        name: config.name,
        created: config.created,
        ...(config.version !== undefined && { version: config.version }),
        ...(config.description !== undefined && { description: config.description }),
        manifests: config.manifests,
        ...(config.files !== undefined && { files: config.files }),
        parameters: Object.keys(properties).sort(),
        layer: { digest: layer?.digest ?? '', size: layer?.size ?? 0 },
      };
      if (!options.noFiles && layer?.mediaType === BUNDLE_CONTENT) {
        const listed = await listBundleLayer(await registry.fetchBlob(layer), `bundle ${result.reference}`);
        result.files = listed.entries;
      }
    }
    return result;
  } catch (err) {
    throw wrapError(err, `inspecting ${formatReference(ref)} failed`);
  }
}
