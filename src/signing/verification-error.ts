import { PromoteError, type ErrorCode } from '../errors.ts';

// Every way a signature or record can fail to verify, named. The CLI exits 4 for all of them
// (outcome "verification"); scripts switch on `code`, humans read which check failed in the
// message, and `details.check` carries the same name for --output json.

/** The check that failed, in the order verification runs them. */
export type VerificationCheck =
  /** The public key given to verify with is of a type we cannot verify with. */
  | 'key-type'
  /** No signature (no `.sig` manifest, no Sigstore bundle referrer) exists for the digest. */
  | 'signature-present'
  /** The signed artefact's manifest is not in the registry, or its bytes do not hash to its digest. */
  | 'subject'
  /** The signature manifest or a Sigstore bundle is not in a shape we can read. */
  | 'signature-format'
  /** Base64 or DER of a signature is corrupted. */
  | 'signature-encoding'
  /** The signature does not verify with any trusted key: a different key, or a changed payload. */
  | 'signature'
  /** The signed payload is not a cosign container image signature / in-toto statement. */
  | 'payload-type'
  /** The signed payload names a different digest: a signature replayed onto another artefact. */
  | 'payload-digest'
  /** Keyless: the certificate identity or issuer is not the one the policy asks for. */
  | 'identity'
  /** Keyless: certificate chain, transparency log or timestamp did not verify against the trusted root. */
  | 'trust-root'
  /** A promotion record or status report is missing or does not match what was expected. */
  | 'record';

const CODES: Record<VerificationCheck, ErrorCode> = {
  'key-type': 'KEY_UNSUPPORTED',
  subject: 'SUBJECT_INVALID',
  'signature-present': 'SIGNATURE_MISSING',
  'signature-format': 'SIGNATURE_FORMAT_INVALID',
  'signature-encoding': 'SIGNATURE_MALFORMED',
  signature: 'SIGNATURE_INVALID',
  'payload-type': 'SIGNATURE_PAYLOAD_INVALID',
  'payload-digest': 'SIGNATURE_DIGEST_MISMATCH',
  identity: 'SIGNATURE_IDENTITY_MISMATCH',
  'trust-root': 'SIGNATURE_UNTRUSTED',
  record: 'RECORD_INVALID',
};

/** How far a candidate signature got: a later check is a more useful thing to report. */
export const CHECK_ORDER: VerificationCheck[] = [
  'signature-present',
  'key-type',
  'subject',
  'signature-format',
  'signature-encoding',
  'trust-root',
  'signature',
  'payload-type',
  'identity',
  'payload-digest',
  'record',
];

export function codeForCheck(check: VerificationCheck): ErrorCode {
  return CODES[check];
}

export function verificationFailed(
  check: VerificationCheck,
  message: string,
  hint: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): PromoteError {
  return new PromoteError(CODES[check], `verification failed (${check} check): ${message}`, {
    outcome: 'verification',
    hint,
    details: { check, ...details },
    ...(cause !== undefined && { cause }),
  });
}

/** The check a verification error failed, or undefined when it is not one. */
export function failedCheck(err: unknown): VerificationCheck | undefined {
  if (!(err instanceof PromoteError) || err.outcome !== 'verification') return undefined;
  const check = err.details?.check;
  return typeof check === 'string' && check in CODES ? (check as VerificationCheck) : undefined;
}
