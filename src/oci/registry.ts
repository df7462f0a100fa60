import type { Readable } from 'node:stream';

// The one seam between promote and wherever artefacts live. Two implementations:
// HttpRegistry (OCI distribution spec over HTTP) and LayoutRegistry (OCI image layout on disk).
// An instance is bound to one repository, like ORAS' `Repository`.

/** OCI content descriptor (image-spec descriptor.md). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  data?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface FetchedManifest {
  /** Digest and size computed from the bytes received, never taken from a header. */
  descriptor: Descriptor;
  bytes: Buffer;
}

/** Blob content: bytes in memory, or a function that opens a fresh stream (called again on retry). */
export type BlobContent = Uint8Array | (() => Readable);

export interface PushBlobResult {
  /** False when the repository already had the blob (nothing was sent). */
  uploaded: boolean;
  /** True when the blob was cross-repository mounted instead of uploaded. */
  mounted?: boolean;
}

export interface PushBlobOptions {
  /**
   * Upload without first asking whether the repository has the blob: for bytes just made (a fresh
   * signature), which it never has. Uploading a blob it does have costs only the upload.
   */
  assumeMissing?: boolean;
}

export interface PushManifestOptions {
  /**
   * False: the manifest is found by its tag, so the client does not add it to the subject's
   * `<alg>-<hex>` fallback index (a registry with the referrers API still lists it, from its
   * `subject`). For what many writers publish about one subject over and over — status reports:
   * a thousand agents rewriting one index without a conditional PUT lose each other's entries,
   * and the index grows by one entry per report until the registry refuses it (4 MiB).
   */
  referrersIndex?: boolean;
}

// The seam is split by role, as oras-go splits its Target (content.Fetcher, content.Pusher,
// registry.TagLister, registry.ReferrerLister, content.Deleter): a caller takes only the role it
// uses, so a test fake implements only that. `Registry` is the whole of it, what the two
// implementations provide and openRegistry returns.

/** Reads manifests and blobs; resolves tags. */
export interface ContentReader {
  /** `host/repository` or `oci:path`, for messages. */
  readonly name: string;

  /** The blob's descriptor if this repository has it. */
  statBlob(digest: string): Promise<Descriptor | undefined>;

  /**
   * Streams a blob, hashing while streaming; the stream fails with BLOB_DIGEST_MISMATCH before it
   * ends if the bytes do not match `descriptor` (so a consumer must not commit before 'end').
   */
  fetchBlob(descriptor: Descriptor): Promise<Readable>;

  /** Reads a small blob whole, refusing more than `maxBytes`; verified like fetchBlob. */
  fetchBlobBytes(descriptor: Descriptor, maxBytes?: number): Promise<Buffer>;

  /** Tag or digest → descriptor of the manifest (HEAD), or undefined when there is none. */
  resolve(reference: string): Promise<Descriptor | undefined>;

  /** Tag or digest → manifest bytes, verified against the digest asked for, at most 4 MiB. */
  fetchManifest(reference: string): Promise<FetchedManifest>;

  /**
   * Tag → the digest the registry says it points at (one HEAD: Docker-Content-Digest; `digest`
   * absent when it did not say), or undefined when the tag does not exist. Unverified: only a
   * key into content the caller already verified under that digest (a cache), never a fact on
   * its own.
   */
  headTag?(tag: string): Promise<{ digest?: string } | undefined>;
}

/** Stores blobs and manifests. */
export interface ContentPusher {
  readonly name: string;

  /** Uploads a blob unless present; the content is checked against `descriptor.digest` and `size`. */
  pushBlob(descriptor: Descriptor, content: BlobContent, options?: PushBlobOptions): Promise<PushBlobResult>;

  /**
   * Stores a manifest by digest, and at `tag` when given. A manifest with a `subject` is also
   * made findable by `referrers` (tag-schema fallback where the registry has no referrers API),
   * unless `options.referrersIndex` is false.
   */
  pushManifest(bytes: Uint8Array, mediaType: string, tag?: string, options?: PushManifestOptions): Promise<Descriptor>;

  /**
   * Cross-repository mount (distribution spec "Mounting a blob from another repository"):
   * true when the registry linked the blob without an upload. Only same-host HTTP registries can.
   */
  mountBlob?(descriptor: Descriptor, fromRepository: string): Promise<boolean>;
}

export interface TagLister {
  readonly name: string;
  listTags(): Promise<string[]>;
}

export interface ReferrerLister {
  readonly name: string;
  /** Manifests whose `subject` is `digest`, optionally only those of one artifactType. */
  referrers(digest: string, artifactType?: string): Promise<Descriptor[]>;
}

export interface ManifestDeleter {
  readonly name: string;
  /** Removes a tag-less or tagged manifest by digest (used to undo partial work). */
  deleteManifest(digest: string): Promise<void>;
}

/** What reading signed artefacts takes: their manifests and blobs, and what refers to them. */
export type ArtifactReader = ContentReader & ReferrerLister;

/** One repository, every role: HttpRegistry (distribution spec) and LayoutRegistry (image layout). */
export interface Registry extends ContentReader, ContentPusher, TagLister, ReferrerLister, ManifestDeleter {}
