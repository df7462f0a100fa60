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

export interface Registry {
  /** `host/repository` or `oci:path`, for messages. */
  readonly name: string;

  /** The blob's descriptor if this repository has it. */
  statBlob(digest: string): Promise<Descriptor | undefined>;

  /** Uploads a blob unless present; the content is checked against `descriptor.digest` and `size`. */
  pushBlob(descriptor: Descriptor, content: BlobContent): Promise<PushBlobResult>;

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
   * Stores a manifest by digest, and at `tag` when given. A manifest with a `subject` is also
   * made findable by `referrers` (tag-schema fallback where the registry has no referrers API).
   */
  pushManifest(bytes: Uint8Array, mediaType: string, tag?: string): Promise<Descriptor>;

  listTags(): Promise<string[]>;

  /** Manifests whose `subject` is `digest`, optionally only those of one artifactType. */
  referrers(digest: string, artifactType?: string): Promise<Descriptor[]>;

  /** Removes a tag-less or tagged manifest by digest (used to undo partial work). */
  deleteManifest(digest: string): Promise<void>;

  /**
   * Cross-repository mount (distribution spec "Mounting a blob from another repository"):
   * true when the registry linked the blob without an upload. Only same-host HTTP registries can.
   */
  mountBlob?(descriptor: Descriptor, fromRepository: string): Promise<boolean>;
}
