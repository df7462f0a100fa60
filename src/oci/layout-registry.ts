import { closeSync, createReadStream, createWriteStream, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isPromoteError, PromoteError, type ErrorCode } from '../errors.ts';
import { sweepTemps, tempName } from '../temp-file.ts';
import { checkBytes, sha256Digest, sizeMismatch, VerifyingStream } from './digest.ts';
import { ANNOTATION_REF_NAME, MAX_MANIFEST_BYTES, OCI_INDEX, OCI_MANIFEST } from './media-types.ts';
import { isValidDigest, checkDigest, checkTag } from './reference.ts';
import { readLayoutIndex, sortEntries, updateLayoutIndex } from './layout-index.ts';
import type { BlobContent, Descriptor, FetchedManifest, PushBlobResult, Registry } from './registry.ts';
import { writeFileAtomic } from '../write-file-atomic.ts';

/** Blobs up to this size are read whole (see fetchBlob). */
const SMALL_BLOB = 4 * 1024 * 1024;

function tooLarge(descriptor: Descriptor, name: string, maxBytes: number): PromoteError {
  return new PromoteError('TOO_LARGE', `blob ${descriptor.digest} in ${name} is over the limit of ${maxBytes} bytes for reading it whole`, {
    outcome: 'verification',
    hint: 'this limit protects memory; the content is not what promote expects here',
  });
}

/** Reads a whole file of at most `maxBytes` (else an EFBIG error), checking the size first. */
function readFileLimited(path: string, maxBytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) throw Object.assign(new Error(`${path} is larger than ${maxBytes} bytes`), { code: 'EFBIG', size });
    const bytes = Buffer.allocUnsafe(size);
    let n = 0;
    for (let r = 1; n < size && r > 0; n += r) r = readSync(fd, bytes, n, size - n, n);
    return bytes.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

// Size: one class, every Registry role over one on-disk format, each method a few lines of file
// I/O plus its verification; index.json and its lock are in layout-index.ts.
//
// An OCI image layout directory (image-spec image-layout.md) as a Registry: the embedded default
// when no registry server is wanted (DESIGN.md §6), in exactly the format skopeo (`oci:`), umoci
// and oras read and write:
//   <dir>/oci-layout            {"imageLayoutVersion":"1.0.0"}
//   <dir>/index.json            an image index; tags are `org.opencontainers.image.ref.name`
//   <dir>/blobs/sha256/<hex>    content-addressed blobs
//
// Writes are atomic: a blob is streamed to a temp file beside the layout, verified against its
// digest and size, then renamed into place, so a reader never sees a partial blob. index.json is
// rewritten under a lock file (layout-index.ts), so concurrent writers never lose entries.
// Every blob read is verified while it streams: a layout on a shared disk is not trusted more
// than a registry.
//
// Referrers: index.json lists every manifest the layout holds (tagged or not: untagged entries
// keep them reachable, so `umoci gc` does not collect signatures), so `referrers()` scans those
// manifests for a matching `subject`. We do not also write a `sha256-<hex>` tag-schema index
// here: that fallback exists for registries that cannot enumerate manifests, while index.json
// already does; a second copy of the same facts could only go stale. (Copying a layout with
// `promote copy` carries referrers either way.)

const LAYOUT_FILE = 'oci-layout';

function notFound(code: ErrorCode, message: string, hint: string): PromoteError {
  return new PromoteError(code, message, { hint });
}


export class LayoutRegistry implements Registry {
  readonly name: string;
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.name = `oci:${path}`;
  }

  private blobPath(digest: string): string {
    checkDigest(digest);
    const colon = digest.indexOf(':');
    return join(this.path, 'blobs', digest.slice(0, colon), digest.slice(colon + 1));
  }

  // Small reads (oci-layout, index.json, manifests) are synchronous: each is well under a
  // millisecond from the page cache, while a thread-pool round trip per call made reading a
  // layout cost ~10 ms of a `promote copy` (seen in a trace). Blobs still stream.
  private async exists(): Promise<boolean> {
    return existsSync(join(this.path, LAYOUT_FILE));
  }

  private async requireLayout(): Promise<void> {
    if (!(await this.exists())) {
      throw notFound('LAYOUT_NOT_FOUND', `${this.name} is not an OCI image layout (it has no ${LAYOUT_FILE} file)`, 'check the path; `promote build --oci-layout <dir>` or `promote push <dir> oci:<path>` creates one');
    }
  }

  private swept = false;

  /** Creates the layout skeleton on first write (idempotent, safe against a concurrent creator). */
  private async ensureLayout(): Promise<void> {
    if (!this.swept) {
      // Temp files of a writer killed mid-push (kill -9 runs no cleanup); a live writer's stay.
      this.swept = true;
      await sweepTemps(this.path);
    }
    if (await this.exists()) return;
    await mkdir(join(this.path, 'blobs', 'sha256'), { recursive: true });
    await writeFileAtomic(join(this.path, LAYOUT_FILE), Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  }

  /** Runs `change` on index.json under its lock (layout-index.ts), creating the layout first. */
  private async updateIndex(change: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    await this.ensureLayout();
    await updateLayoutIndex(this.path, this.name, change);
  }

  async statBlob(digest: string): Promise<Descriptor | undefined> {
    try {
      const s = await stat(this.blobPath(digest));
      return s.isFile() ? { mediaType: 'application/octet-stream', digest, size: s.size } : undefined;
    } catch {
      return undefined;
    }
  }

  async pushBlob(descriptor: Descriptor, content: BlobContent): Promise<PushBlobResult> {
    const have = await this.statBlob(descriptor.digest);
    if (have && have.size === descriptor.size) return { uploaded: false };
    await this.ensureLayout();
    const target = this.blobPath(descriptor.digest);
    await mkdir(join(target, '..'), { recursive: true });
    const tmp = join(this.path, tempName('blob'));
    try {
      const source = content instanceof Uint8Array ? Readable.from([Buffer.from(content)]) : content();
      const verify = new VerifyingStream({ digest: descriptor.digest, size: descriptor.size }, `blob ${descriptor.digest}`, 'the content being stored');
      await pipeline(source, verify, createWriteStream(tmp, { flags: 'wx' }));
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { uploaded: true };
  }

  async fetchBlob(descriptor: Descriptor): Promise<Readable> {
    // A small blob (a config, a manifest, a bundle of a few hundred KiB) is read and checked at
    // once: its bytes are ready for the next step without a stream set-up and a thread-pool round
    // trip per step. As for a streamed blob, bytes that do not match fail the stream.
    if (descriptor.size <= SMALL_BLOB) {
      try {
        return Readable.from([await this.fetchBlobBytes(descriptor, SMALL_BLOB)], { objectMode: false });
      } catch (err) {
        if (!isPromoteError(err) || err.outcome !== 'verification') throw err;
        const failing = new PassThrough();
        failing.destroy(err);
        return failing;
      }
    }
    const path = this.blobPath(descriptor.digest);
    const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
    try {
      await new Promise<void>((ok, fail) => {
        file.once('open', () => ok());
        file.once('error', fail);
      });
    } catch (err) {
      file.destroy();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        await this.requireLayout();
        throw notFound('BLOB_NOT_FOUND', `${this.name} has no blob ${descriptor.digest}`, 'the layout is incomplete; copy the artefact into it again');
      }
      throw err;
    }
    const verify = new VerifyingStream({ digest: descriptor.digest, size: descriptor.size }, `blob ${descriptor.digest}`, this.name);
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    pipeline(file, verify, out).catch(() => undefined); // errors reach the consumer through `out`
    return out;
  }

  async fetchBlobBytes(descriptor: Descriptor, maxBytes = MAX_MANIFEST_BYTES): Promise<Buffer> {
    if (descriptor.size > maxBytes) throw tooLarge(descriptor, this.name, maxBytes);
    const what = `blob ${descriptor.digest}`;
    let bytes: Buffer;
    try {
      // One byte more than the descriptor says is enough to know the file is not that blob.
      bytes = readFileLimited(this.blobPath(descriptor.digest), descriptor.size + 1);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        await this.requireLayout();
        throw notFound('BLOB_NOT_FOUND', `${this.name} has no blob ${descriptor.digest}`, 'the layout is incomplete; copy the artefact into it again');
      }
      if ((err as NodeJS.ErrnoException).code === 'EFBIG') throw sizeMismatch(what, descriptor.size, (err as { size: number }).size, this.name);
      throw err;
    }
    checkBytes(descriptor, bytes, what, this.name);
    return bytes;
  }

  async resolve(reference: string): Promise<Descriptor | undefined> {
    if (!(await this.exists())) return undefined;
    const { manifests } = readLayoutIndex(this.path, this.name);
    if (isValidDigest(reference)) {
      const listed = manifests.find((d) => d.digest === reference);
      if (listed) return stripRefName(listed);
      // Present as a blob but not listed (e.g. a child of an index): read its media type.
      const blob = await this.statBlob(reference);
      if (!blob || blob.size > MAX_MANIFEST_BYTES) return undefined;
      const bytes = await this.fetchBlobBytes(blob);
      return manifestDescriptor(bytes, reference, OCI_MANIFEST);
    }
    checkTag(reference);
    const tagged = manifests.filter((d) => d.annotations?.[ANNOTATION_REF_NAME] === reference);
    const last = tagged[tagged.length - 1];
    return last ? stripRefName(last) : undefined;
  }

  async fetchManifest(reference: string): Promise<FetchedManifest> {
    await this.requireLayout();
    const descriptor = await this.resolve(reference);
    if (!descriptor) {
      throw notFound('MANIFEST_NOT_FOUND', `${this.name} has no manifest ${reference}`, isValidDigest(reference) ? 'check the digest' : `list the tags with \`umoci ls --layout ${this.path}\` or check the reference`);
    }
    const bytes = await this.fetchBlobBytes(descriptor, MAX_MANIFEST_BYTES);
    return { descriptor: manifestDescriptor(bytes, descriptor.digest, descriptor.mediaType), bytes };
  }

  async headTag(tag: string): Promise<{ digest?: string } | undefined> {
    checkTag(tag);
    const d = await this.resolve(tag);
    return d && { digest: d.digest };
  }

  async pushManifest(bytes: Uint8Array, mediaType: string, tag?: string): Promise<Descriptor> {
    if (tag !== undefined) checkTag(tag);
    if (bytes.length > MAX_MANIFEST_BYTES) {
      throw new PromoteError('MANIFEST_TOO_LARGE', `the manifest is ${bytes.length} bytes, over the 4 MiB limit registries enforce`, { hint: 'an artefact this large in its manifest is not what promote builds' });
    }
    const digest = sha256Digest(bytes);
    const descriptor = manifestDescriptor(bytes, digest, mediaType);
    await this.pushBlob({ mediaType, digest, size: bytes.length }, bytes);
    await this.updateIndex((manifests) => {
      let next = manifests;
      if (tag !== undefined) {
        // Moving a tag: take it off every other entry, but keep what it pointed at reachable.
        next = [];
        for (const d of manifests) {
          if (d.annotations?.[ANNOTATION_REF_NAME] !== tag) next.push(d);
          else if (d.digest !== digest && !manifests.some((o) => o !== d && o.digest === d.digest)) next.push(stripRefName(d));
        }
        next = next.filter((d) => !(d.digest === digest && d.annotations?.[ANNOTATION_REF_NAME] === undefined));
        next.push({ ...descriptor, annotations: { [ANNOTATION_REF_NAME]: tag } });
      } else if (!manifests.some((d) => d.digest === digest)) {
        next = [...manifests, descriptor];
      }
      return sortEntries(next);
    });
    return descriptor;
  }

  async listTags(): Promise<string[]> {
    await this.requireLayout();
    const { manifests } = readLayoutIndex(this.path, this.name);
    const tags = new Set<string>();
    for (const d of manifests) {
      const tag = d.annotations?.[ANNOTATION_REF_NAME];
      if (tag !== undefined) tags.add(tag);
    }
    return [...tags].sort();
  }

  async referrers(digest: string, artifactType?: string): Promise<Descriptor[]> {
    checkDigest(digest);
    if (!(await this.exists())) return [];
    const { manifests } = readLayoutIndex(this.path, this.name);
    const seen = new Set<string>();
    const found: Descriptor[] = [];
    for (const d of manifests) {
      if (seen.has(d.digest) || (d.mediaType !== OCI_MANIFEST && d.mediaType !== OCI_INDEX)) continue;
      seen.add(d.digest);
      const bytes = await this.fetchBlobBytes({ ...stripRefName(d), size: d.size });
      const m = JSON.parse(bytes.toString('utf8')) as { subject?: Descriptor; artifactType?: string; config?: Descriptor; annotations?: Record<string, string> };
      if (m.subject?.digest !== digest) continue;
      const type = m.artifactType ?? m.config?.mediaType;
      if (artifactType !== undefined && type !== artifactType) continue;
      found.push({
        mediaType: d.mediaType,
        digest: d.digest,
        size: d.size,
        ...(type !== undefined && { artifactType: type }),
        ...(m.annotations && { annotations: m.annotations }),
      });
    }
    return found.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  }

  async deleteManifest(digest: string): Promise<void> {
    checkDigest(digest);
    await this.requireLayout();
    await this.updateIndex((manifests) => manifests.filter((d) => d.digest !== digest));
  }
}

function stripRefName(d: Descriptor): Descriptor {
  if (!d.annotations || !(ANNOTATION_REF_NAME in d.annotations)) return d;
  const { [ANNOTATION_REF_NAME]: _tag, ...rest } = d.annotations;
  const { annotations: _a, ...bare } = d;
  return Object.keys(rest).length ? { ...bare, annotations: rest } : bare;
}

/** Descriptor of manifest bytes: media type from the document if it names one. */
function manifestDescriptor(bytes: Uint8Array, digest: string, fallbackMediaType: string): Descriptor {
  let doc: { mediaType?: unknown; artifactType?: unknown; config?: { mediaType?: unknown } };
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof doc;
  } catch (err) {
    throw new PromoteError('MANIFEST_INVALID', `manifest ${digest} is not valid JSON`, {
      cause: err,
      outcome: 'verification',
      hint: 'a manifest is a JSON document; these bytes were written by another tool or damaged. Copy or push the artefact into the layout again',
    });
  }
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : fallbackMediaType;
  const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : undefined;
  return { mediaType, digest, size: bytes.length, ...(artifactType !== undefined && { artifactType }) };
}
