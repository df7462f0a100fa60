import type { CodeTable } from '../errors.ts';

// The error codes of signing/ (keys, signatures and trust): what each means and, when every failure with it
// ends the same way, its outcome (exit code). docs/errors.md lists them (npm run docs:errors).
export const signingErrorCodes = {
  BUNDLE_NOT_FOUND: { meaning: 'the bundle named (a directory or a digest) does not exist' },
  INTERRUPTED: { meaning: 'a password prompt was interrupted', outcome: 'usage' },
  KEY_EXISTS: { meaning: 'keygen refuses to overwrite an existing key file', outcome: 'failed' },
  KEY_FORMAT_INVALID: { meaning: 'a key file is not a readable cosign or PEM key' },
  KEY_NOT_FOUND: { meaning: 'a private key file cannot be read', outcome: 'usage' },
  KEY_PASSWORD_MISMATCH: { meaning: 'the two passwords typed at keygen differ', outcome: 'usage' },
  KEY_PASSWORD_MISSING: { meaning: 'a key password is needed and there is no terminal to ask on', outcome: 'usage' },
  KEY_PASSWORD_WRONG: { meaning: 'the password does not decrypt the private key', outcome: 'failed' },
  KEY_UNSUPPORTED: { meaning: 'the key\'s algorithm cannot sign or verify here' },
  KEY_WRITE_FAILED: { meaning: 'a key file cannot be written', outcome: 'failed' },
  RECORD_INVALID: { meaning: 'a promotion record or status report is missing or is not the one expected', outcome: 'verification' },
  RECORD_NOT_FOUND: { meaning: 'no signed record or report is at the tag or digest', outcome: 'failed' },
  REFERENCE_NEEDS_DIGEST: { meaning: 'sign was given a tag, which can move: it signs digests only', outcome: 'usage' },
  SIGNATURE_DIGEST_MISMATCH: { meaning: 'the signed payload names another digest: a signature replayed onto another artefact', outcome: 'verification' },
  SIGNATURE_FORMAT_INVALID: { meaning: 'a signature manifest or Sigstore bundle is not in a shape promote reads', outcome: 'verification' },
  SIGNATURE_IDENTITY_MISMATCH: { meaning: 'keyless: the certificate identity or issuer is not the one trusted', outcome: 'verification' },
  SIGNATURE_INVALID: { meaning: 'the signature does not verify with any trusted key', outcome: 'verification' },
  SIGNATURE_MALFORMED: { meaning: 'the base64 or DER of a signature is corrupted', outcome: 'verification' },
  SIGNATURE_MISSING: { meaning: 'the artefact has no signature', outcome: 'verification' },
  SIGNATURE_PAYLOAD_INVALID: { meaning: 'the signed payload is not a cosign signature or in-toto statement', outcome: 'verification' },
  SIGNATURE_UNTRUSTED: { meaning: 'keyless: certificate chain, transparency log or timestamp does not verify against the trusted root', outcome: 'verification' },
  SIGNING_KEY_UNTRUSTED: { meaning: 'the signing key is not in the pipeline\'s trust list for this role', outcome: 'verification' },
  SUBJECT_INVALID: { meaning: 'the signed artefact\'s manifest is missing or does not hash to its digest', outcome: 'verification' },
  TRUSTED_ROOT_INVALID: { meaning: 'a Sigstore trusted root file is not valid', outcome: 'usage' },
  TRUSTED_ROOT_MISSING: { meaning: 'the public-good trusted root is not in the installed @sigstore/tuf', outcome: 'failed' },
  TRUSTED_ROOT_NOT_FOUND: { meaning: 'the trusted root file cannot be read', outcome: 'usage' },
  TRUST_EMPTY: { meaning: 'nothing is trusted to sign, so nothing can verify', outcome: 'usage' },
} as const satisfies CodeTable;

type SigningErrorCodes = typeof signingErrorCodes;

declare module '../errors.ts' {
  interface ErrorCodes extends SigningErrorCodes {}
}
