import { setTimeout as sleep } from 'node:timers/promises';
import { isPromoteError, PromoteError } from '../../errors.ts';
import { readLimited } from '../digest.ts';
import { MAX_MANIFEST_BYTES, OCI_INDEX } from '../media-types.ts';
import { checkDigest } from '../reference.ts';
import type { Descriptor, ImageIndex } from '../registry.ts';
import type { RepositoryClient } from './client.ts';
import { getManifest, putManifest } from './manifests.ts';
import { discard } from './transport.ts';

// Referrers (distribution-spec v1.1 "Listing Referrers"): the API where the registry has it,
// otherwise the "referrers tag schema" fallback — an OCI index tagged `<alg>-<hex>` listing the
// manifests whose subject is that digest. distribution 2.8 has no API (404 text/plain,
// REGISTRY-NOTES.md) and accepts `subject` without an OCI-Subject header, so the client that
// pushes a referrer maintains the fallback index itself (read-modify-write, deduplicated).

/** The fallback tag for a subject digest: `<alg>-<hex>`, truncated as the spec says. */
export function fallbackTag(digest: string): string {
  checkDigest(digest);
  const [alg, hex] = digest.split(':') as [string, string];
  return `${alg.slice(0, 32)}-${hex.slice(0, 64)}`;
}

function parseIndex(bytes: Buffer, where: string): ImageIndex {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const index = parsed as Partial<ImageIndex> | undefined;
  if (!index || typeof index !== 'object' || !Array.isArray(index.manifests)) {
    throw new PromoteError('MANIFEST_INVALID', `${where} is not an OCI image index`, {
      hint: 'the referrers list is corrupt; delete the tag so it can be rebuilt by pushing the referrers again',
    });
  }
  return index as ImageIndex;
}

function keep(list: Descriptor[], artifactType: string | undefined): Descriptor[] {
  const valid = list.filter((d) => d && typeof d.digest === 'string' && typeof d.mediaType === 'string');
  return artifactType === undefined ? valid : valid.filter((d) => d.artifactType === artifactType);
}

export interface ReferrersState {
  /** Learned on first use: undefined = not yet known. */
  apiSupported?: boolean;
}

export async function listReferrers(client: RepositoryClient, digest: string, artifactType: string | undefined, state: ReferrersState): Promise<Descriptor[]> {
  checkDigest(digest);
  if (state.apiSupported !== false) {
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const res = await client.send({ method: 'GET', url: client.url(`referrers/${digest}${query}`), headers: { accept: OCI_INDEX } }, {
      access: 'pull', ok: [200], pass: [404, 400, 405], action: `listing referrers of ${digest}`,
    });
    if (res.status === 200) {
      state.apiSupported = true;
      const bytes = await readLimited(res.body, MAX_MANIFEST_BYTES, `referrers of ${digest} in ${client.name}`);
      // Filtering is optional for the registry (OCI-Filters-Applied); filter again regardless.
      return keep(parseIndex(bytes, `the referrers list of ${digest} in ${client.name}`).manifests, artifactType);
    }
    await discard(res.body);
    state.apiSupported = false;
  }
  const tag = fallbackTag(digest);
  const fetched = await getManifest(client, tag, { accept: [OCI_INDEX], allowMissing: true });
  if (!fetched) return [];
  return keep(parseIndex(fetched.bytes, `the referrers index ${client.name}:${tag}`).manifests, artifactType);
}

/** What a referrer's entry in an index says about it (image-spec "Listing Referrers"). */
export function referrerDescriptor(bytes: Uint8Array, mediaType: string, digest: string): Descriptor {
  const manifest = JSON.parse(Buffer.from(bytes).toString('utf8')) as { artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> };
  const artifactType = manifest.artifactType ?? manifest.config?.mediaType;
  return {
    mediaType,
    digest,
    size: bytes.length,
    ...(artifactType !== undefined && { artifactType }),
    ...(manifest.annotations && Object.keys(manifest.annotations).length > 0 && { annotations: manifest.annotations }),
  };
}

/**
 * Adds `referrer` to the fallback index of `subject`. distribution has no conditional PUT, so
 * a concurrent writer can overwrite our entry: read back once after writing and redo when it
 * went missing, a bounded number of times.
 */
export async function addToFallbackIndex(client: RepositoryClient, subject: string, referrer: Descriptor): Promise<void> {
  const tag = fallbackTag(subject);
  for (let attempt = 1; attempt <= 3; attempt++) {
    const current = await getManifest(client, tag, { accept: [OCI_INDEX], allowMissing: true });
    const index: ImageIndex = current
      ? parseIndex(current.bytes, `the referrers index ${client.name}:${tag}`)
      : { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
    if (index.manifests.some((d) => d.digest === referrer.digest)) return;
    const next: ImageIndex = { ...index, mediaType: OCI_INDEX, manifests: [...index.manifests, referrer] };
    try {
      await putManifest(client, Buffer.from(JSON.stringify(next)), OCI_INDEX, tag);
    } catch (err) {
      // distribution checks every manifest an index lists, and under concurrent pushes of the
      // same manifests it has answered MANIFEST_BLOB_UNKNOWN for one that its writer had pushed
      // (seen in test/promotion/tag-race). Read the index again and retry, as for a lost write.
      if (attempt === 3 || !isPromoteError(err, 'BLOB_NOT_FOUND')) throw err;
      await sleep(100 * attempt);
      continue;
    }
    const check = await getManifest(client, tag, { accept: [OCI_INDEX], allowMissing: true });
    if (check && parseIndex(check.bytes, `the referrers index ${client.name}:${tag}`).manifests.some((d) => d.digest === referrer.digest)) return;
  }
  throw new PromoteError('REFERRERS_UPDATE_FAILED', `could not add ${referrer.digest} to the referrers index ${client.name}:${tag}: other writers kept replacing it`, {
    hint: 'retry; another process is pushing signatures or records for the same artefact at the same moment',
  });
}
