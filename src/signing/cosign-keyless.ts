import { createHash } from 'node:crypto';
import type { Descriptor } from '../oci/registry.ts';
import { COSIGN_BUNDLE_ANNOTATION, COSIGN_CERTIFICATE_ANNOTATION, COSIGN_SIGNATURE_ANNOTATION } from './cosign-signature.ts';

// cosign's keyless *classic* signatures (cosign 1.x/2.x `sign` without a key): the Fulcio
// certificate and the Rekor SET ride in layer annotations. We turn them into the Sigstore bundle
// they are equivalent to (v0.1: message signature + certificate + tlog entry with inclusion
// promise) so @sigstore/verify checks chain, SCT, SET and signature in one place, offline.

interface RekorSet {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** True when the layer carries a certificate, i.e. was signed keylessly. */
export function isKeylessLayer(layer: Descriptor): boolean {
  return typeof layer.annotations?.[COSIGN_CERTIFICATE_ANNOTATION] === 'string';
}

/** The Sigstore bundle (JSON) equivalent to a keyless classic signature layer, or a reason it cannot be built. */
export function classicLayerToBundle(layer: Descriptor, payload: Buffer): { bundle: unknown } | { problem: string } {
  const a = layer.annotations ?? {};
  const cert = a[COSIGN_CERTIFICATE_ANNOTATION];
  const signature = a[COSIGN_SIGNATURE_ANNOTATION];
  if (!cert || !signature) return { problem: 'no certificate or signature annotation' };
  const tlogEntries: unknown[] = [];
  const setText = a[COSIGN_BUNDLE_ANNOTATION];
  if (setText) {
    let set: RekorSet;
    let body: { kind?: string; apiVersion?: string };
    try {
      set = JSON.parse(setText) as RekorSet;
      body = JSON.parse(Buffer.from(set.Payload.body, 'base64').toString('utf8')) as typeof body;
    } catch {
      return { problem: `the ${COSIGN_BUNDLE_ANNOTATION} annotation is not a Rekor bundle` };
    }
    tlogEntries.push({
      logIndex: String(set.Payload.logIndex),
      logId: { keyId: Buffer.from(set.Payload.logID, 'hex').toString('base64') },
      kindVersion: { kind: body.kind ?? 'hashedrekord', version: body.apiVersion ?? '0.0.1' },
      integratedTime: String(set.Payload.integratedTime),
      inclusionPromise: { signedEntryTimestamp: set.SignedEntryTimestamp },
      canonicalizedBody: set.Payload.body,
    });
  }
  return {
    bundle: {
      mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
      verificationMaterial: {
        x509CertificateChain: { certificates: [{ rawBytes: pemToDer(cert).toString('base64') }] },
        tlogEntries,
      },
      messageSignature: {
        messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(payload).digest('base64') },
        signature,
      },
    },
  };
}
