import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { PromoteError } from '../../src/errors.ts';
import { OCI_EMPTY, OCI_MANIFEST, EMPTY_JSON_DIGEST } from '../../src/oci/media-types.ts';
import { parseVerificationKey, type VerificationKey } from '../../src/signing/keys.ts';
import { LocalKeySigner } from '../../src/signing/signer.ts';

// Test keys, a small artefact manifest to sign and the verification-failure assertion, shared by
// the signing tests.

export interface TestKey {
  signer: LocalKeySigner;
  pub: VerificationKey;
  privatePem: string;
}

export function testKey(name: string): TestKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = new LocalKeySigner(privateKey);
  return { signer, pub: parseVerificationKey(signer.publicKeyPem, `${name}.pub`), privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** A minimal artefact manifest (empty config, no layers) that differs by `label`. */
export function artefactManifest(label: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: 'application/vnd.promote.bundle.v1',
      config: { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 },
      layers: [],
      annotations: { 'org.opencontainers.image.title': label },
    }),
  );
}

/** For assert.throws/rejects: a verification failure (exit 4) of exactly `check`. */
export function failsCheck(check: string) {
  return (err: unknown) => {
    assert.ok(err instanceof PromoteError, String(err));
    assert.equal(err.exitCode, 4, err.message);
    assert.equal(err.details?.check, check, err.message);
    return true;
  };
}
