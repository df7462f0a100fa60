// Hand-made bundles that `promote build` would never produce, stored through the real Registry
// interface (a real registry or a layout): a chosen content layer and a chosen config.
import { canonicalJsonBytes } from '../../src/oci/canonical-json.ts';
import { sha256Digest } from '../../src/oci/digest.ts';
import { BUNDLE_ARTIFACT, BUNDLE_CONFIG, BUNDLE_CONTENT, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import type { Registry } from '../../src/oci/registry.ts';

export interface CraftedBundle {
  /** The gzip'd tar to use as the content layer. */
  layer: Buffer;
  /** Config fields over the defaults (name, created, manifests, parameterSchema). */
  config?: Record<string, unknown>;
  /** The config blob's exact bytes (overrides `config`). */
  configBytes?: Buffer;
}

/** Pushes a crafted bundle under `tag`; returns its manifest digest. */
export async function pushCrafted(registry: Registry, tag: string, bundle: CraftedBundle): Promise<string> {
  const config = bundle.configBytes ?? canonicalJsonBytes({ name: 'crafted', created: '1970-01-01T00:00:00Z', manifests: 'manifests/', files: 'files/', parameterSchema: { type: 'object' }, ...bundle.config });
  const configDesc = { mediaType: BUNDLE_CONFIG, digest: sha256Digest(config), size: config.length };
  const layerDesc = { mediaType: BUNDLE_CONTENT, digest: sha256Digest(bundle.layer), size: bundle.layer.length };
  await registry.pushBlob(configDesc, config);
  await registry.pushBlob(layerDesc, bundle.layer);
  const manifest = canonicalJsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: BUNDLE_ARTIFACT, config: configDesc, layers: [layerDesc] });
  return (await registry.pushManifest(manifest, OCI_MANIFEST, tag)).digest;
}
