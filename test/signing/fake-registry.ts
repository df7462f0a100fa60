import { Readable } from 'node:stream';
import { PromoteError } from '../../src/errors.ts';
import { sha256Digest } from '../../src/oci/digest.ts';
import type { BlobContent, ContentPusher, ContentReader, Descriptor, FetchedManifest, ImageManifest, PushBlobResult, ReferrerLister } from '../../src/oci/registry.ts';

// An in-process registry for unit tests of signing logic (tests using it say "(in-process fake)").
// Stores blobs and manifests in maps, serves referrers by scanning subjects, counts calls. It plays
// the roles signing uses (read, push, list referrers), not tag listing or deletion.

export class FakeRegistry implements ContentReader, ContentPusher, ReferrerLister {
  readonly name: string;
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { bytes: Buffer; mediaType: string }>();
  readonly tags = new Map<string, string>();
  calls: string[] = [];

  constructor(name = 'fake.example/acme/webapp') {
    this.name = name;
  }

  async statBlob(digest: string): Promise<Descriptor | undefined> {
    this.calls.push(`statBlob ${digest}`);
    const b = this.blobs.get(digest);
    return b ? { mediaType: 'application/octet-stream', digest, size: b.length } : undefined;
  }

  async pushBlob(descriptor: Descriptor, content: BlobContent): Promise<PushBlobResult> {
    this.calls.push(`pushBlob ${descriptor.digest}`);
    if (typeof content === 'function') throw new Error('fake: streams not supported');
    const buf = Buffer.from(content);
    if (sha256Digest(buf) !== descriptor.digest) throw new Error('fake: digest mismatch on push');
    const had = this.blobs.has(descriptor.digest);
    this.blobs.set(descriptor.digest, buf);
    return { uploaded: !had };
  }

  async fetchBlob(descriptor: Descriptor): Promise<Readable> {
    return Readable.from([await this.fetchBlobBytes(descriptor)]);
  }

  async fetchBlobBytes(descriptor: Descriptor): Promise<Buffer> {
    this.calls.push(`fetchBlob ${descriptor.digest}`);
    const b = this.blobs.get(descriptor.digest);
    if (!b) throw new PromoteError('BLOB_NOT_FOUND', `blob ${descriptor.digest} not found`);
    const actual = sha256Digest(b);
    if (actual !== descriptor.digest) {
      throw new PromoteError('BLOB_DIGEST_MISMATCH', `blob does not match its digest: expected ${descriptor.digest}, got ${actual}`, { outcome: 'verification' });
    }
    return b;
  }

  #digestOf(reference: string): string | undefined {
    return reference.includes(':') ? (this.manifests.has(reference) ? reference : undefined) : this.tags.get(reference);
  }

  async resolve(reference: string): Promise<Descriptor | undefined> {
    this.calls.push(`resolve ${reference}`);
    const d = this.#digestOf(reference);
    if (!d) return undefined;
    const m = this.manifests.get(d)!;
    return { mediaType: m.mediaType, digest: d, size: m.bytes.length };
  }

  async fetchManifest(reference: string): Promise<FetchedManifest> {
    this.calls.push(`fetchManifest ${reference}`);
    const d = this.#digestOf(reference);
    if (!d) throw new PromoteError('MANIFEST_NOT_FOUND', `manifest ${reference} not found in ${this.name}`);
    const m = this.manifests.get(d)!;
    return { descriptor: { mediaType: m.mediaType, digest: d, size: m.bytes.length }, bytes: m.bytes };
  }

  async pushManifest(bytes: Uint8Array, mediaType: string, tag?: string): Promise<Descriptor> {
    this.calls.push(`pushManifest ${tag ?? ''}`);
    const buf = Buffer.from(bytes);
    const digest = sha256Digest(buf);
    this.manifests.set(digest, { bytes: buf, mediaType });
    if (tag) this.tags.set(tag, digest);
    return { mediaType, digest, size: buf.length };
  }

  async referrers(digest: string, artifactType?: string): Promise<Descriptor[]> {
    this.calls.push(`referrers ${digest}`);
    const out: Descriptor[] = [];
    for (const [d, m] of this.manifests) {
      let parsed: ImageManifest;
      try {
        parsed = JSON.parse(m.bytes.toString('utf8')) as ImageManifest;
      } catch {
        continue;
      }
      if (parsed.subject?.digest !== digest) continue;
      const type = parsed.artifactType ?? parsed.config?.mediaType;
      if (artifactType && type !== artifactType) continue;
      out.push({ mediaType: m.mediaType, digest: d, size: m.bytes.length, ...(type && { artifactType: type }), ...(parsed.annotations && { annotations: parsed.annotations }) });
    }
    return out;
  }

  /** Stores an arbitrary JSON manifest (e.g. an artefact to sign) and returns its digest. */
  async putJson(value: unknown, tag?: string, mediaType = 'application/vnd.oci.image.manifest.v1+json'): Promise<Descriptor> {
    return this.pushManifest(Buffer.from(JSON.stringify(value)), mediaType, tag);
  }
}
