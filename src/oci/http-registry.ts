import type { Readable } from 'node:stream';
import { PromoteError } from '../errors.ts';
import { readLimited, sha256Digest, VerifyingStream } from './digest.ts';
import { MANIFEST_ACCEPT, MAX_MANIFEST_BYTES } from './media-types.ts';
import type { RegistryOptions } from './open.ts';
import { checkDigest, checkTag, isValidDigest, type RegistryReference } from './reference.ts';
import type { BlobContent, Descriptor, FetchedManifest, PushBlobOptions, PushBlobResult, PushManifestOptions, Registry } from './registry.ts';
import { repositoryScope } from './http/auth.ts';
import { RepositoryClient } from './http/client.ts';
import { checkManifestReference, getManifest, putManifest } from './http/manifests.ts';
import { addToFallbackIndex, listReferrers, referrerDescriptor, type ReferrersState } from './http/referrers.ts';
import { networkError } from './http/network-error.ts';
import { discard, readText } from './http/transport.ts';
import { DEFAULT_MONOLITHIC_MAX, mountBlob, uploadBlob } from './http/upload.ts';

// The Registry interface over the OCI distribution spec (v1.1, with distribution 2.8's quirks
// from REGISTRY-NOTES.md). One instance per repository. The pieces live in ./http/:
// transport (node:http(s), TLS, retries), auth (challenges, tokens), credentials (env, docker config,
// helpers), upload (sessions, chunks, mount), manifests (limits, digests), referrers (API +
// tag-schema fallback).

/** Redirects followed for blob GETs (registries hand blobs to object storage via 307). */
const MAX_REDIRECTS = 5;
/** All pages of one tag listing together (some 1.5 million tags of 40 characters). */
const MAX_TAG_LIST_BYTES = 64 * 1024 * 1024;

export class HttpRegistry implements Registry {
  readonly name: string;
  readonly reference: RegistryReference;
  private readonly client: RepositoryClient;
  private readonly monolithicMax: number;
  private readonly chunkSize: number | undefined;
  private readonly referrersState: ReferrersState = {};

  constructor(ref: RegistryReference, options: RegistryOptions = {}) {
    this.reference = ref;
    this.client = new RepositoryClient(ref.registry, ref.repository, {
      ...(options.insecure !== undefined && { insecure: options.insecure }),
      ...(options.caFile !== undefined && { caFile: options.caFile }),
      ...(options.retry !== undefined && { retry: options.retry }),
      timeoutMs: options.timeoutMs ?? registryTimeout(options.env ?? process.env),
      ...(options.username !== undefined && { username: options.username }),
      ...(options.password !== undefined && { password: options.password }),
      ...(options.dockerConfig !== undefined && { dockerConfig: options.dockerConfig }),
      ...(options.env !== undefined && { env: options.env }),
    });
    this.name = this.client.name;
    this.monolithicMax = options.monolithicMax ?? DEFAULT_MONOLITHIC_MAX;
    this.chunkSize = options.chunkSize;
  }

  async statBlob(digest: string): Promise<Descriptor | undefined> {
    checkDigest(digest);
    const res = await this.client.send({ method: 'HEAD', url: this.client.url(`blobs/${digest}`) }, {
      access: 'pull', ok: [200], pass: [404], action: `checking blob ${digest}`,
    });
    await discard(res.body);
    if (res.status === 404) return undefined;
    const size = Number(res.headers['content-length']);
    return { mediaType: res.headers['content-type'] ?? 'application/octet-stream', digest, size: Number.isFinite(size) ? size : -1 };
  }

  async pushBlob(descriptor: Descriptor, content: BlobContent, options: PushBlobOptions = {}): Promise<PushBlobResult> {
    checkDigest(descriptor.digest);
    if (!options.assumeMissing && (await this.statBlob(descriptor.digest))) return { uploaded: false };
    await uploadBlob(this.client, descriptor, content, {
      monolithicMax: this.monolithicMax,
      ...(this.chunkSize !== undefined && { chunkSize: this.chunkSize }),
    });
    return { uploaded: true };
  }

  async mountBlob(descriptor: Descriptor, fromRepository: string): Promise<boolean> {
    checkDigest(descriptor.digest);
    // Accept `host/repo` as well as `repo`; a mount only works within one registry.
    const prefix = `${this.reference.registry}/`;
    const from = fromRepository.startsWith(prefix) ? fromRepository.slice(prefix.length) : fromRepository;
    return mountBlob(this.client, descriptor, from, repositoryScope(from, 'pull'));
  }

  async fetchBlob(descriptor: Descriptor): Promise<Readable> {
    checkDigest(descriptor.digest);
    const { body, url } = await this.openBlob(descriptor.digest);
    const verifying = new VerifyingStream(descriptor, `blob ${descriptor.digest}`, this.name);
    // A connection lost mid-body surfaces as "registry unreachable", not a bare socket error.
    body.on('error', (err) => verifying.destroy(err instanceof PromoteError ? err : networkError(err, url, this.client.transport.insecure)));
    verifying.on('close', () => { if (!body.readableEnded) body.destroy(); });
    return body.pipe(verifying);
  }

  async fetchBlobBytes(descriptor: Descriptor, maxBytes = MAX_MANIFEST_BYTES): Promise<Buffer> {
    if (descriptor.size > maxBytes) {
      throw new PromoteError('TOO_LARGE', `blob ${descriptor.digest} in ${this.name} is ${descriptor.size} bytes, over the limit of ${maxBytes} for reading it whole`, {
        outcome: 'verification',
        hint: 'this blob is expected to be small (a config or a signature); the artefact is not what promote expects',
      });
    }
    return readLimited(await this.fetchBlob(descriptor), maxBytes, `blob ${descriptor.digest} in ${this.name}`);
  }

  /** GET the blob, following redirects; credentials go only to the registry's own origin. */
  private async openBlob(digest: string): Promise<{ body: Readable; url: string }> {
    const action = `fetching blob ${digest}`;
    const first = this.client.url(`blobs/${digest}`);
    let res = await this.client.send({ method: 'GET', url: first }, { access: 'pull', ok: [200], pass: [301, 302, 303, 307, 308], action });
    let url = first;
    for (let hops = 0; res.status !== 200; hops++) {
      await discard(res.body);
      if (hops >= MAX_REDIRECTS) {
        throw new PromoteError('REGISTRY_ERROR', `${action} (${this.name}): more than ${MAX_REDIRECTS} redirects`, { hint: 'the registry or its storage is misconfigured' });
      }
      url = this.client.resolveLocation(res.headers.location, url, action);
      const sameOrigin = new URL(url).origin === new URL(this.client.normalise(first)).origin;
      if (sameOrigin) {
        res = await this.client.send({ method: 'GET', url }, { access: 'pull', ok: [200], pass: [301, 302, 303, 307, 308], action });
      } else {
        res = await this.client.transport.send({ method: 'GET', url });
        if (res.status !== 200 && (res.status < 300 || res.status >= 400)) {
          const text = await readText(res.body, 2048);
          throw new PromoteError('REGISTRY_ERROR', `${action} (${this.name}): the blob storage at ${new URL(url).host} answered ${res.status}${text ? `: ${text.trim().slice(0, 200)}` : ''}`, {
            hint: 'the registry redirected to its storage backend, which failed; retry later',
          });
        }
      }
    }
    return { body: res.body, url };
  }

  async resolve(reference: string): Promise<Descriptor | undefined> {
    checkManifestReference(reference);
    if (!reference.includes(':')) {
      // By tag: GET rather than HEAD, so the digest comes from the bytes, never from a header.
      return (await getManifest(this.client, reference, { allowMissing: true }))?.descriptor;
    }
    const res = await this.client.send({
      method: 'HEAD',
      url: this.client.url(`manifests/${reference}`),
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
    }, { access: 'pull', ok: [200], pass: [404], action: `resolving manifest ${reference}` });
    await discard(res.body);
    if (res.status === 404) return undefined;
    const size = Number(res.headers['content-length']);
    if (Number.isFinite(size) && size > MAX_MANIFEST_BYTES) {
      throw new PromoteError('MANIFEST_TOO_LARGE', `manifest ${reference} in ${this.name} is ${size} bytes, over the 4 MiB limit`, { outcome: 'verification', hint: 'this is not a manifest promote can use' });
    }
    return {
      mediaType: res.headers['content-type']?.split(';')[0]?.trim() ?? 'application/octet-stream',
      digest: reference,
      size: Number.isFinite(size) ? size : -1,
    };
  }

  async headTag(tag: string): Promise<{ digest?: string } | undefined> {
    checkTag(tag);
    const res = await this.client.send({
      method: 'HEAD',
      url: this.client.url(`manifests/${tag}`),
      headers: { accept: MANIFEST_ACCEPT.join(', ') },
    }, { access: 'pull', ok: [200], pass: [404], action: `resolving tag ${tag}` });
    await discard(res.body);
    if (res.status === 404) return undefined;
    const digest = res.headers['docker-content-digest'];
    // No (or no usable) header: the caller reads the manifest itself.
    return typeof digest === 'string' && isValidDigest(digest) ? { digest } : {};
  }

  async fetchManifest(reference: string): Promise<FetchedManifest> {
    return (await getManifest(this.client, reference))!;
  }

  async pushManifest(bytes: Uint8Array, mediaType: string, tag?: string, options: PushManifestOptions = {}): Promise<Descriptor> {
    const digest = sha256Digest(bytes);
    const { subjectHeader } = await putManifest(this.client, bytes, mediaType, tag ?? digest);
    const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
    let subject: string | undefined;
    try {
      const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as { artifactType?: unknown; subject?: { digest?: unknown } };
      if (typeof parsed.artifactType === 'string') descriptor.artifactType = parsed.artifactType;
      if (typeof parsed.subject?.digest === 'string') subject = parsed.subject.digest;
    } catch {
      /* the registry accepted it; not JSON we can read for a subject */
    }
    // No OCI-Subject header means the registry did not index the subject: keep the fallback,
    // unless the caller finds this manifest by its tag.
    if (subject !== undefined && !subjectHeader && options.referrersIndex !== false) {
      await addToFallbackIndex(this.client, subject, referrerDescriptor(bytes, mediaType, digest));
    }
    return descriptor;
  }

  async listTags(): Promise<string[]> {
    const tags: string[] = [];
    let url: string | undefined = this.client.url('tags/list');
    // The bound is on the whole listing, not each page: a registry (or a proxy) that keeps
    // answering rel="next" must not make us read without end.
    let budget = MAX_TAG_LIST_BYTES;
    for (let pages = 0; url && pages < 10_000; pages++) {
      const res = await this.client.send({ method: 'GET', url, headers: { accept: 'application/json' } }, {
        access: 'pull', ok: [200], pass: [404], action: 'listing tags',
      });
      if (res.status === 404) {
        // A repository nothing was pushed to yet has no tags; it is not an error to ask.
        await discard(res.body);
        return [];
      }
      const bytes = await readLimited(res.body, budget, `the tag list of ${this.name}`);
      budget -= bytes.length;
      const body = JSON.parse(bytes.toString('utf8')) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      url = nextLink(res.headers.link, url);
    }
    return tags;
  }

  async referrers(digest: string, artifactType?: string): Promise<Descriptor[]> {
    return listReferrers(this.client, digest, artifactType, this.referrersState);
  }

  async deleteManifest(digest: string): Promise<void> {
    checkDigest(digest);
    const res = await this.client.send({ method: 'DELETE', url: this.client.url(`manifests/${digest}`) }, {
      access: 'push', scopes: [`repository:${this.reference.repository}:delete`], ok: [200, 202, 204], pass: [404], action: `deleting manifest ${digest}`,
    });
    await discard(res.body);
  }
}

/** PROMOTE_REGISTRY_TIMEOUT (`30s`, `15m`), else the transport's default. */
export function registryTimeout(env: NodeJS.ProcessEnv): number | undefined {
  const text = env.PROMOTE_REGISTRY_TIMEOUT;
  if (text === undefined || text === '') return undefined;
  // `90s`, `5m`, `1h30m` (the duration syntax of pipelines, which this layer cannot import).
  const ms = /^(?:\d+(?:\.\d+)?(?:ms|[smh]))+$/.test(text.trim())
    ? [...text.matchAll(/(\d+(?:\.\d+)?)(ms|[smh])/g)].reduce((sum, [, n, unit]) => sum + Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms']!, 0)
    : undefined;
  if (ms === undefined || ms <= 0) {
    throw new PromoteError('USAGE', `PROMOTE_REGISTRY_TIMEOUT=${text} is not a duration`, { outcome: 'usage', hint: 'write it like 30s, 5m or 1h' });
  }
  return ms;
}

/** RFC 8288 `Link: </v2/...?last=x&n=100>; rel="next"`, resolved against the request URL. */
export function nextLink(header: string | undefined, current: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /\brel="?next"?/.test(m[2]!)) return new URL(m[1]!, current).href;
  }
  return undefined;
}
