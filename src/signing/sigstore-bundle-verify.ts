import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { PolicyError, toSignedEntity, toTrustMaterial, Verifier, VerificationError, type Signer as VerifiedSigner } from '@sigstore/verify';
import type { VerificationKey } from './keys.ts';
import { publicGoodTrustedRoot, type TrustedRoot } from './trusted-root.ts';
import { verificationFailed, type VerificationCheck } from './verification-error.ts';

// Offline verification of one Sigstore bundle (specs/BUNDLE_SPEC.md) with @sigstore/verify:
// against explicit public keys, or keyless against a trusted root plus an identity policy.
// Never `sigstore.verify()`: it refreshes TUF metadata over the network (SIGNING-NOTES.md).

/**
 * A keyless signer we trust: OIDC issuer and certificate subject (SAN), each exact or a regular
 * expression. Like cosign's --certificate-identity-regexp, expressions are unanchored (Go's
 * MatchString); anchor them with ^…$ to match the whole value.
 */
export interface KeylessIdentity {
  issuer?: string;
  issuerRegExp?: string;
  subject?: string;
  subjectRegExp?: string;
}

export interface SigstoreTrust {
  keys: VerificationKey[];
  identities: KeylessIdentity[];
  /** For keyless and for transparency-log entries; default: the public-good root, offline. */
  trustedRoot?: TrustedRoot;
}

export type SignedBy =
  | { kind: 'key'; key: string; hint: string }
  | { kind: 'keyless'; subject: string; issuer: string };

export interface VerifiedSigstoreBundle {
  signedBy: SignedBy;
  content: 'dsse' | 'message-signature';
  /** DSSE only: the payload type and the verified payload bytes. */
  payloadType?: string;
  payload?: Buffer;
  /** Message signature only: the signed digest (hex) and its algorithm. */
  messageDigest?: { algorithm: string; hex: string };
  /** Transparency-log entries that were checked against the trusted root. */
  tlogEntries: number;
}

function libraryCheck(err: unknown): VerificationCheck {
  if (err instanceof PolicyError) return 'identity';
  if (err instanceof VerificationError) return err.code === 'SIGNATURE_ERROR' ? 'signature' : 'trust-root';
  return 'signature';
}

export function parseSigstoreBundle(json: unknown, source: string): Bundle {
  try {
    return bundleFromJSON(json);
  } catch (err) {
    throw verificationFailed('signature-format', `${source} is not a valid Sigstore bundle: ${(err as Error).message}`, 'the referrer or file does not hold a Sigstore bundle (application/vnd.dev.sigstore.bundle.v0.3+json)', { source }, err);
  }
}

function matches(value: string | undefined, exact: string | undefined, pattern: string | undefined): boolean {
  if (value === undefined) return false;
  if (exact !== undefined && value !== exact) return false;
  if (pattern !== undefined && !new RegExp(pattern).test(value)) return false;
  return exact !== undefined || pattern !== undefined;
}

export function identityMatches(identity: KeylessIdentity, subject: string | undefined, issuer: string | undefined): boolean {
  return matches(subject, identity.subject, identity.subjectRegExp) && matches(issuer, identity.issuer, identity.issuerRegExp);
}

export function describeIdentity(i: KeylessIdentity): string {
  const subject = i.subject ?? (i.subjectRegExp !== undefined ? `/${i.subjectRegExp}/` : '*');
  const issuer = i.issuer ?? (i.issuerRegExp !== undefined ? `/${i.issuerRegExp}/` : '*');
  return `${subject} (issuer ${issuer})`;
}

function describeContent(bundle: Bundle, signer: VerifiedSigner, signedBy: SignedBy): VerifiedSigstoreBundle {
  const tlogEntries = bundle.verificationMaterial.tlogEntries.length;
  void signer;
  if (bundle.content.$case === 'dsseEnvelope') {
    const env = bundle.content.dsseEnvelope;
    return { signedBy, content: 'dsse', payloadType: env.payloadType, payload: Buffer.from(env.payload), tlogEntries };
  }
  const md = bundle.content.messageSignature.messageDigest;
  return {
    signedBy,
    content: 'message-signature',
    ...(md && { messageDigest: { algorithm: md.algorithm === 1 ? 'sha256' : md.algorithm === 2 ? 'sha384' : md.algorithm === 3 ? 'sha512' : String(md.algorithm), hex: Buffer.from(md.digest).toString('hex') } }),
    tlogEntries,
  };
}

/**
 * Verifies one bundle. `artifact` is needed for message-signature bundles (the signed bytes);
 * DSSE bundles carry their payload. Throws a verification PromoteError naming the failed check.
 */
export function verifySigstoreBundle(json: unknown, trust: SigstoreTrust, options: { artifact?: Buffer; source?: string } = {}): VerifiedSigstoreBundle {
  const source = options.source ?? 'the bundle';
  const bundle = parseSigstoreBundle(json, source);
  if (bundle.content.$case === 'messageSignature' && !options.artifact) {
    throw verificationFailed('signature-format', `${source} is a message-signature bundle, which can only be verified together with the signed file`, 'verify it with the artifact it signs (cosign verify-blob), or sign OCI artefacts as DSSE statements', { source });
  }
  const root = trust.trustedRoot ?? publicGoodTrustedRoot();
  let entity;
  try {
    entity = toSignedEntity(bundle, options.artifact);
  } catch (err) {
    throw verificationFailed('signature-format', `${source} cannot be read: ${(err as Error).message}`, 'the bundle is damaged; re-sign the artefact', { source }, err);
  }
  const material = bundle.verificationMaterial.content;

  if (material.$case === 'publicKey') {
    if (trust.keys.length === 0) {
      throw verificationFailed('signature', `${source} is signed with a key (hint ${material.publicKey.hint || '""'}), and no public key is trusted`, 'pass the signer\'s public key with --key, or list it under trust in the pipeline', { source });
    }
    let last: unknown;
    let lastCheck: VerificationCheck = 'signature';
    for (const key of trust.keys) {
      // The hint in a bundle is advisory (cosign leaves it empty in DSSE): try every trusted key.
      const material = toTrustMaterial(root, () => ({ publicKey: key.key, validFor: () => true }));
      try {
        const signer = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
        return describeContent(bundle, signer, { kind: 'key', key: key.source, hint: key.hint });
      } catch (err) {
        const check = libraryCheck(err);
        // A tlog failure is about the log, not the key: report it over a mere key mismatch.
        if (last === undefined || check !== 'signature') {
          last = err;
          lastCheck = check;
        }
      }
    }
    const keys = trust.keys.map((k) => k.source).join(', ');
    if (lastCheck === 'trust-root') {
      throw verificationFailed('trust-root', `${source}: ${(last as Error).message}`, 'the bundle\'s transparency-log entry is not from a log in the trusted root; pass --trusted-root for a private Sigstore instance', { source, keys }, last);
    }
    throw verificationFailed('signature', `${source} does not verify with ${trust.keys.length === 1 ? 'key' : 'any of the keys'} ${keys} (signed with another key, or changed after signing)`, 'check that --key is the public key of the signer; if it is, the content was altered after signing', { source, keys }, last);
  }

  // Keyless: certificate chain to a CA in the trusted root, SCT, and a timestamp (tlog or TSA).
  if (trust.identities.length === 0) {
    throw verificationFailed('identity', `${source} is signed keylessly (certificate), and no keyless identity is trusted`, 'pass --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp], or list a keyless identity under trust', { source });
  }
  let signer: VerifiedSigner;
  try {
    signer = new Verifier(toTrustMaterial(root)).verify(entity);
  } catch (err) {
    const check = libraryCheck(err);
    throw verificationFailed(check, `${source}: ${(err as Error).message}`, check === 'trust-root' ? 'the certificate, transparency-log entry or timestamp does not chain to the trusted root; pass the right --trusted-root' : 'the content was altered after signing', { source }, err);
  }
  const subject = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  if (!trust.identities.some((i) => identityMatches(i, subject, issuer))) {
    throw verificationFailed('identity', `${source} was signed by ${subject ?? '(no subject)'} (issuer ${issuer ?? 'none'}), which the policy does not trust (expected ${trust.identities.map(describeIdentity).join(' or ')})`, 'check --certificate-identity / --certificate-oidc-issuer (or the trust list in the pipeline)', { source, subject, issuer });
  }
  return describeContent(bundle, signer, { kind: 'keyless', subject: subject ?? '', issuer: issuer ?? '' });
}
