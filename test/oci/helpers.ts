import { canonicalJsonBytes } from '../../src/oci/canonical-json.ts';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, OCI_EMPTY, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import type { ContentPusher, Descriptor } from '../../src/oci/registry.ts';

const EMPTY: Descriptor = { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 };

/** Attaches a small artefact whose `subject` is `subject` (stands in for a record or signature). */
export async function attach(registry: ContentPusher, subject: Descriptor, artifactType: string, tag?: string, note = artifactType): Promise<Descriptor> {
  await registry.pushBlob(EMPTY, EMPTY_JSON);
  const bytes = canonicalJsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config: EMPTY, layers: [EMPTY], subject, annotations: { note } });
  return registry.pushManifest(bytes, OCI_MANIFEST, tag);
}
