// Shared set-up for the HTTP registry tests: client options that never read the developer's
// own credentials, and a small artefact (custom config media type, one layer) to push.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { sha256Digest } from '../../src/oci/digest.ts';
import { HttpRegistry } from '../../src/oci/http-registry.ts';
import type { RegistryOptions } from '../../src/oci/open.ts';
import { parseReference, type RegistryReference } from '../../src/oci/reference.ts';
import type { Descriptor } from '../../src/oci/registry.ts';
import type { RegistryServer } from '../harness/registry.ts';

export const CONFIG_TYPE = 'application/vnd.promote.test.config.v1+json';
export const LAYER_TYPE = 'application/vnd.promote.test.layer.v1.tar+gzip';
export const ARTIFACT_TYPE = 'application/vnd.promote.test.v1';

/** Options for a test registry: credentials only from what the test passes. */
export function clientOptions(reg: Pick<RegistryServer, 'url' | 'caFile'>, extra: RegistryOptions = {}): RegistryOptions {
  const tls = reg.url.startsWith('https:');
  return {
    insecure: !tls,
    ...(tls && reg.caFile !== undefined && { caFile: reg.caFile }),
    env: {},
    dockerConfig: join(tmpdir(), `promote-no-docker-config-${randomBytes(4).toString('hex')}.json`),
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    ...extra,
  };
}

export function repoRef(host: string, repository: string, tag?: string): RegistryReference {
  return parseReference(`${host}/${repository}${tag ? `:${tag}` : ''}`) as RegistryReference;
}

export function open(reg: Pick<RegistryServer, 'host' | 'url' | 'caFile'>, repository: string, extra: RegistryOptions = {}): HttpRegistry {
  return new HttpRegistry(repoRef(reg.host, repository), clientOptions(reg, extra));
}

export interface Artifact {
  config: { descriptor: Descriptor; bytes: Buffer };
  layer: { descriptor: Descriptor; bytes: Buffer };
  manifest: { bytes: Buffer; digest: string; mediaType: string };
}

export function blob(mediaType: string, bytes: Buffer): { descriptor: Descriptor; bytes: Buffer } {
  return { descriptor: { mediaType, digest: sha256Digest(bytes), size: bytes.length }, bytes };
}

export function makeArtifact(layerSize = 4096, extra: Record<string, unknown> = {}): Artifact {
  const config = blob(CONFIG_TYPE, Buffer.from(JSON.stringify({ name: 'test', nonce: randomBytes(8).toString('hex') })));
  const layer = blob(LAYER_TYPE, randomBytes(layerSize));
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    artifactType: ARTIFACT_TYPE,
    config: config.descriptor,
    layers: [layer.descriptor],
    annotations: { 'org.opencontainers.image.title': 'test' },
    ...extra,
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { config, layer, manifest: { bytes, digest: sha256Digest(bytes), mediaType: manifest.mediaType } };
}

export async function pushArtifact(r: HttpRegistry, a: Artifact, tag?: string): Promise<Descriptor> {
  await r.pushBlob(a.config.descriptor, a.config.bytes);
  await r.pushBlob(a.layer.descriptor, a.layer.bytes);
  return r.pushManifest(a.manifest.bytes, a.manifest.mediaType, tag);
}
