import { PromoteError } from '../errors.ts';
import { digestHex, sha256Digest } from '../oci/digest.ts';
import { COSIGN_SIMPLESIGNING, OCI_IMAGE_CONFIG, OCI_MANIFEST } from '../oci/media-types.ts';
import { isNotFound } from '../oci/not-found.ts';
import type { ContentPusher, ContentReader, Descriptor, ImageManifest } from '../oci/registry.ts';
import type { Signer } from './signer.ts';
import { simpleSigningPayload } from './simple-signing.ts';

// cosign's classic signature storage (sigstore/cosign specs/SIGNATURE_SPEC.md): an image manifest
// at tag `sha256-<hex>.sig` in the signed artefact's repository, one layer per signature (the
// simple-signing payload), the base64 signature in a layer annotation. `cosign verify --key`
// reads exactly this, and we read what cosign writes.

export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Optional layer annotations cosign reads (certificate, chain, Rekor bundle, RFC 3161 timestamp). */
export const COSIGN_CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const COSIGN_CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
export const COSIGN_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';

/** Largest payload layer we read: simple-signing payloads are a few hundred bytes. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export function signatureTag(digest: string): string {
  const algorithm = digest.slice(0, digest.indexOf(':'));
  return `${algorithm}-${digestHex(digest)}.sig`;
}

export interface SignatureLayer {
  descriptor: Descriptor;
  /** The base64 signature from the annotation, as stored (may be corrupt: checked by verify). */
  signature: string | undefined;
}

export interface SignatureManifest {
  /** Digest of the `.sig` manifest. */
  digest: string;
  manifest: ImageManifest;
  layers: SignatureLayer[];
}

/**
 * Reads the signature manifest of `digest`, or undefined when there is none. One GET when it
 * exists (the common case, counted by the bench); a failed GET is confirmed with a HEAD so a
 * network or auth error is never mistaken for "unsigned".
 */
export async function readSignatureManifest(registry: ContentReader, digest: string): Promise<SignatureManifest | undefined> {
  const tag = signatureTag(digest);
  let fetched;
  try {
    fetched = await registry.fetchManifest(tag);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    if ((await registry.resolve(tag).catch(() => 'error')) === undefined) return undefined;
    throw err;
  }
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(fetched.bytes.toString('utf8')) as ImageManifest;
  } catch {
    throw new PromoteError('SIGNATURE_FORMAT_INVALID', `signature manifest ${registry.name}:${tag} is not JSON`, {
      outcome: 'verification',
      hint: 'the signature tag holds something other than a cosign signature; re-sign the artefact',
      details: { check: 'signature-format' },
    });
  }
  if (!Array.isArray(manifest.layers)) {
    throw new PromoteError('SIGNATURE_FORMAT_INVALID', `signature manifest ${registry.name}:${tag} has no layers`, {
      outcome: 'verification',
      hint: 'the signature tag holds something other than a cosign signature; re-sign the artefact',
      details: { check: 'signature-format' },
    });
  }
  return {
    digest: fetched.descriptor.digest,
    manifest,
    layers: manifest.layers.map((descriptor) => ({ descriptor, signature: descriptor.annotations?.[COSIGN_SIGNATURE_ANNOTATION] })),
  };
}

/** The image config cosign (go-containerregistry's empty.Image + one layer per signature) writes. */
function signatureConfig(layers: Descriptor[], created: string): Buffer {
  const config = {
    architecture: '',
    created,
    history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
  };
  return Buffer.from(JSON.stringify(config), 'utf8');
}

/** A descriptor in go-containerregistry's field order (mediaType, size, digest, annotations). */
function descriptor(mediaType: string, bytes: Uint8Array, annotations?: Record<string, string>): Descriptor {
  return { mediaType, size: bytes.byteLength, digest: sha256Digest(bytes), ...(annotations && { annotations }) };
}

export interface SignResult {
  /** The artefact digest that was signed. */
  digest: string;
  /** The docker-reference the payload names. */
  dockerReference: string;
  /** `sha256-<hex>.sig` and the digest of the signature manifest now stored there. */
  signatureTag: string;
  signatureManifest: string;
  /** Digest of the simple-signing payload layer. */
  payloadDigest: string;
  /** Signatures in the manifest after this one (including it). */
  signatures: number;
  /** False when an identical signature layer was already there (nothing was written). */
  added: boolean;
  keyHint: string;
}

export interface SignOptions {
  /** Extra `optional` claims (cosign `-a key=value`). */
  annotations?: Record<string, string>;
  /** For the config's `created`; default now. */
  now?: Date;
}

/**
 * Signs `digest` the way `cosign sign --key` does and stores the signature at its `.sig` tag,
 * keeping signatures already there. `dockerReference` is the repository as users name it
 * (`registry/repo`), written into the payload; verification checks the digest, not this name,
 * so a relocated (copied) artefact keeps verifying.
 */
export async function signBundle(registry: ContentReader & ContentPusher, digest: string, signer: Signer, dockerReference: string, options: SignOptions = {}): Promise<SignResult> {
  const payload = simpleSigningPayload(dockerReference, digest, options.annotations);
  const signature = (await signer.sign(payload)).toString('base64');
  const layer = descriptor(COSIGN_SIMPLESIGNING, payload, { [COSIGN_SIGNATURE_ANNOTATION]: signature });
  const tag = signatureTag(digest);

  const existing = await readSignatureManifest(registry, digest);
  const layers: Descriptor[] = existing ? existing.manifest.layers.slice() : [];
  // ECDSA signatures are randomised, so "identical" means same payload signed by the same key:
  // that one is already there if an existing layer with our payload verifies with our key.
  const duplicate = await findOwnSignature(existing, payload, layer.digest, signer);
  if (duplicate && existing) {
    return { digest, dockerReference, signatureTag: tag, signatureManifest: existing.digest, payloadDigest: layer.digest, signatures: layers.length, added: false, keyHint: signer.hint };
  }
  layers.push(layer);
  const created = (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const configBytes = signatureConfig(layers, created);
  const config = descriptor(OCI_IMAGE_CONFIG, configBytes);
  await registry.pushBlob(layer, payload);
  await registry.pushBlob(config, configBytes);
  const manifest = {
    schemaVersion: 2 as const,
    mediaType: OCI_MANIFEST,
    config,
    layers,
  };
  const pushed = await registry.pushManifest(Buffer.from(JSON.stringify(manifest), 'utf8'), OCI_MANIFEST, tag);
  return { digest, dockerReference, signatureTag: tag, signatureManifest: pushed.digest, payloadDigest: layer.digest, signatures: layers.length, added: true, keyHint: signer.hint };
}

async function findOwnSignature(existing: SignatureManifest | undefined, payload: Buffer, payloadDigest: string, signer: Signer): Promise<boolean> {
  if (!existing) return false;
  const { createPublicKey, verify } = await import('node:crypto');
  const key = createPublicKey(signer.publicKeyPem);
  return existing.layers.some((l) => {
    if (l.descriptor.digest !== payloadDigest || !l.signature) return false;
    try {
      return verify('sha256', payload, { key, dsaEncoding: 'der' }, Buffer.from(l.signature, 'base64'));
    } catch {
      return false;
    }
  });
}
