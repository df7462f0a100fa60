import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import type { Signer as SigstoreSigner } from '@sigstore/sign';
import type { Signer } from './signer.ts';

// DSSE (github.com/secure-systems-lab/dsse) envelopes around in-toto statements, emitted as
// Sigstore bundles v0.3 — the format cosign v3 writes and verifies. Signed with a local key, no
// witnesses (no Rekor, no TSA): verification is offline against the trusted public keys.

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const IN_TOTO_STATEMENT_V1 = 'https://in-toto.io/Statement/v1';

export interface ResourceDescriptor {
  name?: string;
  digest: Record<string, string>;
  uri?: string;
  annotations?: Record<string, unknown>;
}

/** in-toto Statement v1 (in-toto/attestation spec/v1/statement.md). */
export interface Statement<P = Record<string, unknown>> {
  _type: typeof IN_TOTO_STATEMENT_V1 | string;
  subject: ResourceDescriptor[];
  predicateType: string;
  predicate: P;
}

/** Adapts our one-method Signer to @sigstore/sign's. */
function toSigstoreSigner(signer: Signer): SigstoreSigner {
  return {
    async sign(data: Buffer) {
      return { signature: await signer.sign(data), key: { $case: 'publicKey', publicKey: signer.publicKeyPem, hint: signer.hint } };
    },
  };
}

/** Signs raw DSSE payload bytes of `payloadType` and returns the bundle JSON (v0.3). */
export async function signDsse(payload: Uint8Array, payloadType: string, signer: Signer): Promise<SerializedBundle> {
  // Loaded on first use: @sigstore/sign costs ~70 ms to import, and verify never needs it.
  const { DSSEBundleBuilder } = await import('@sigstore/sign');
  const builder = new DSSEBundleBuilder({ signer: toSigstoreSigner(signer), witnesses: [] });
  const bundle = await builder.create({ data: Buffer.from(payload), type: payloadType });
  // cosign's DSSE verifier skips a signature whose non-empty keyid is not the key's own id
  // (SIGNING-NOTES.md); it, like cosign, leaves the keyid empty.
  for (const sig of bundle.content.dsseEnvelope.signatures) sig.keyid = '';
  return bundleToJSON(bundle);
}

/** Signs an in-toto statement into a DSSE envelope, as a Sigstore bundle v0.3 (JSON). */
export async function signStatement(statement: Statement<unknown>, signer: Signer): Promise<SerializedBundle> {
  return signDsse(Buffer.from(JSON.stringify(statement), 'utf8'), IN_TOTO_PAYLOAD_TYPE, signer);
}
