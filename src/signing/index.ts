// The public surface of src/signing, in one screen (sigstore-js style). The engine, the agent and
// the commands import from here; see docs/attestations.md for the statement formats.

export type { VerificationCheck } from './verification-error.ts';
export { verificationFailed, failedCheck, codeForCheck } from './verification-error.ts';

// Keys and signers
export type { KeyAlgorithm, VerificationKey, PasswordSource } from './keys.ts';
export { parseVerificationKey, readVerificationKey, readSigningKey, keyHint, generateSigningKeyPair } from './keys.ts';
export { decryptCosignKey, encryptCosignKey, SIGSTORE_KEY_LABEL, COSIGN_KEY_LABEL } from './cosign-key-file.ts';
export type { PasswordOptions } from './password.ts';
export { getPassword, passwordFromEnv } from './password.ts';
export type { Signer } from './signer.ts';
export { LocalKeySigner, loadSigner } from './signer.ts';
export type { KeygenOptions, KeygenResult } from './keygen.ts';
export { generateKeyFiles } from './keygen.ts';

// cosign classic signatures
export type { SignResult, SignOptions, SignatureManifest } from './cosign-signature.ts';
export { signBundle, signatureTag, readSignatureManifest, COSIGN_SIGNATURE_ANNOTATION } from './cosign-signature.ts';
export type { VerifiedCosignSignature } from './cosign-verify.ts';
export { simpleSigningPayload, SIMPLE_SIGNING_TYPE } from './simple-signing.ts';

// Sigstore bundles, DSSE, attestations
export type { Statement, ResourceDescriptor } from './dsse.ts';
export { signStatement, signDsse, IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_V1 } from './dsse.ts';
export type { KeylessIdentity, SigstoreTrust, SignedBy, VerifiedSigstoreBundle } from './sigstore-bundle-verify.ts';
export { verifySigstoreBundle } from './sigstore-bundle-verify.ts';
export type { TrustedRoot } from './trusted-root.ts';
export { publicGoodTrustedRoot, readTrustedRoot, parseTrustedRoot } from './trusted-root.ts';
export type { AttachOptions, AttachedStatement, VerifiedStatement } from './attestation.ts';
export {
  COSIGN_SIGN_PREDICATE_TYPE,
  statement,
  signAndAttach,
  attachBundle,
  readAttachedBundle,
  verifyAttachedStatement,
  verifyStatementBundle,
} from './attestation.ts';

export type { SignerRole } from './trusted-signer.ts';
export { keyFingerprint, signerTrusted, requireTrustedSigner, untrustedSignerError } from './trusted-signer.ts';

// Policy: the one place every path verifies through
export type { TrustPolicy, PipelineTrust, TrustEntry, BundleVerification, VerifiedSignature } from './policy.ts';
export { loadTrustPolicy, loadPipelineTrust, verifyBundle } from './policy.ts';
