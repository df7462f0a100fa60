import { isAbsolute, resolve } from 'node:path';
import { PromoteError } from '../errors.ts';
import { SIGSTORE_BUNDLE_V03 } from '../oci/media-types.ts';
import type { ArtifactReader, ContentReader, Descriptor, FetchedManifest } from '../oci/registry.ts';
import { COSIGN_SIGN_PREDICATE_TYPE, readAttachedBundle, verifyStatementBundle } from './attestation.ts';
import { isNotFound } from '../oci/not-found.ts';
import { readSignatureManifest } from './cosign-signature.ts';
import { verifyCosignLayer, type CandidateFailure, type VerifiedCosignSignature } from './cosign-verify.ts';
import { readVerificationKey, type VerificationKey } from './keys.ts';
import { describeIdentity, identityMatches, type KeylessIdentity, type SignedBy } from './sigstore-bundle-verify.ts';
import type { TrustedRoot } from './trusted-root.ts';
import { CHECK_ORDER, failedCheck, verificationFailed } from './verification-error.ts';

// One verification policy, in one place. `promote verify`, `promote to`, `promote pull --verify`
// and the agent all call verifyBundle / verifyRecord with a TrustPolicy, so no path can verify
// less than another. A policy is the `trust` section of a pipeline (DESIGN.md §4), loaded.

export type { KeylessIdentity };

/**
 * What a signer may speak for (trust.agents: the clusters and/or stages an agent key reports
 * for). Absent fields mean "every".
 */
export interface SignerScope {
  clusters?: string[];
  stages?: string[];
}

/** Who may sign: public keys and/or keyless identities (with the root they chain to). */
export interface TrustPolicy {
  keys: (VerificationKey & { scope?: SignerScope })[];
  identities: (KeylessIdentity & { scope?: SignerScope })[];
  /** Default: the public-good Sigstore root shipped with @sigstore/tuf (offline). */
  trustedRoot?: TrustedRoot;
}

/** `trust:` of a pipeline: who may build bundles, sign promotion records and sign approvals. */
export interface PipelineTrust {
  bundles: TrustPolicy;
  promotions: TrustPolicy;
  /** Empty when the pipeline has no trust.approvers (approvals are then unsigned). */
  approvers: TrustPolicy;
}

/** One entry of a trust list in the pipeline YAML (schemas/pipeline.schema.json `trustList`). */
export type TrustEntry = string | (({ key: string } | { keyless: KeylessIdentity }) & SignerScope);

export interface LoadTrustOptions {
  /** Directory relative key paths are resolved against (the repository root). */
  baseDir: string;
  trustedRoot?: TrustedRoot;
}

export async function loadTrustPolicy(entries: TrustEntry[] | undefined, options: LoadTrustOptions): Promise<TrustPolicy> {
  const keys: TrustPolicy['keys'] = [];
  const identities: TrustPolicy['identities'] = [];
  for (const entry of entries ?? []) {
    const scope = typeof entry === 'string' ? undefined : scopeOf(entry);
    if (typeof entry === 'string' || 'key' in entry) {
      const path = typeof entry === 'string' ? entry : entry.key;
      const key = await readVerificationKey(isAbsolute(path) ? path : resolve(options.baseDir, path));
      keys.push({ ...key, source: path, ...(scope && { scope }) });
    } else {
      identities.push({ ...entry.keyless, ...(scope && { scope }) });
    }
  }
  return { keys, identities, ...(options.trustedRoot && { trustedRoot: options.trustedRoot }) };
}

function scopeOf(entry: SignerScope): SignerScope | undefined {
  if (entry.clusters === undefined && entry.stages === undefined) return undefined;
  return { ...(entry.clusters && { clusters: entry.clusters }), ...(entry.stages && { stages: entry.stages }) };
}

function scopeAllows(scope: SignerScope | undefined, about: { stage: string; cluster: string }): boolean {
  return (!scope?.clusters || scope.clusters.includes(about.cluster)) && (!scope?.stages || scope.stages.includes(about.stage));
}

function describeScope(scope: SignerScope | undefined): string {
  if (!scope) return 'every cluster';
  return [scope.clusters && `cluster${scope.clusters.length === 1 ? '' : 's'} ${scope.clusters.join(', ')}`, scope.stages && `stage${scope.stages.length === 1 ? '' : 's'} ${scope.stages.join(', ')}`].filter(Boolean).join(' of ');
}

/**
 * Whether the verified signer may speak for `about` (a status report's stage and cluster): some
 * entry of `policy` that is this signer — the same key, or a keyless identity it matches — is
 * unscoped or names both. A trusted key does not make its holder trusted for every cluster.
 */
export function signerMaySpeakFor(policy: TrustPolicy, signedBy: SignedBy, about: { stage: string; cluster: string }): { ok: true } | { ok: false; reason: string } {
  const entries = signedBy.kind === 'key'
    ? policy.keys.filter((k) => k.hint === signedBy.hint)
    : policy.identities.filter((i) => identityMatches(i, signedBy.subject, signedBy.issuer));
  if (entries.some((e) => scopeAllows(e.scope, about))) return { ok: true };
  const who = signedBy.kind === 'key' ? `key ${signedBy.key}` : `${signedBy.subject} (issuer ${signedBy.issuer})`;
  return { ok: false, reason: `signed by ${who}, which may report only for ${entries.map((e) => describeScope(e.scope)).join(' or ') || 'nothing'}, not ${about.stage}/${about.cluster}` };
}

/** The part of `policy` that may speak for `about`: what an agent's own key must be in before it reports. */
export function scopedPolicy(policy: TrustPolicy, about: { stage: string; cluster: string }): TrustPolicy {
  return { ...policy, keys: policy.keys.filter((k) => scopeAllows(k.scope, about)), identities: policy.identities.filter((i) => scopeAllows(i.scope, about)) };
}

export async function loadPipelineTrust(trust: { bundles?: TrustEntry[]; promotions?: TrustEntry[]; approvers?: TrustEntry[] } | undefined, options: LoadTrustOptions): Promise<PipelineTrust> {
  return {
    bundles: await loadTrustPolicy(trust?.bundles, options),
    promotions: await loadTrustPolicy(trust?.promotions, options),
    approvers: await loadTrustPolicy(trust?.approvers, options),
  };
}

export function requireSomeTrust(policy: TrustPolicy, what: string): void {
  if (policy.keys.length === 0 && policy.identities.length === 0) {
    throw new PromoteError('TRUST_EMPTY', `no key or identity is trusted to sign ${what}, so nothing can verify`, {
      outcome: 'usage',
      hint: 'pass --key <public key> (or --certificate-identity and --certificate-oidc-issuer), or list keys under `trust` in the pipeline',
    });
  }
}

/** A signature over a digest from a Sigstore bundle stored as a referrer (cosign v3's default). */
export interface VerifiedBundleSignature {
  kind: 'sigstore-bundle';
  digest: string;
  /** The referrer manifest holding the bundle. */
  referrer: string;
  predicateType: string;
  signedBy: SignedBy;
}

export type VerifiedSignature = VerifiedCosignSignature | VerifiedBundleSignature;

export interface BundleVerification {
  /** The digest that was verified — use it (never the tag) from here on. */
  digest: string;
  signatures: VerifiedSignature[];
}

export interface VerifyBundleOptions {
  /** How the user named it (e.g. `host/repo:1.0`), for messages. */
  reference?: string;
  /** Also look for Sigstore bundles as referrers when the classic signatures do not verify (default true). */
  referrers?: boolean;
  /** The artefact's manifest, when the caller already fetched it (by tag: its digest is computed from these bytes). */
  manifest?: FetchedManifest;
}

function bestFailure(failures: CandidateFailure[]): CandidateFailure | undefined {
  let best: CandidateFailure | undefined;
  for (const f of failures) {
    if (!best || CHECK_ORDER.indexOf(f.check) > CHECK_ORDER.indexOf(best.check)) best = f;
  }
  return best;
}

const HINTS: Record<string, string> = {
  subject: 'the artefact itself is missing or altered; only its signature is there — do not deploy it, push it again from a trusted source',
  'signature-format': 'the signature is not in a format cosign or promote writes; re-sign the bundle',
  'signature-encoding': 'the stored signature is corrupted (base64 or DER); re-sign the bundle with `promote sign`',
  signature: 'check that --key is the public key of the signer; if it is, the signed content was changed after signing',
  'payload-type': 'the signature is not a cosign container image signature; it was made for something else',
  'payload-digest': 'a valid signature of another artefact was copied here; this digest was never signed — do not deploy it',
  identity: 'check --certificate-identity / --certificate-oidc-issuer (or the trust list in the pipeline)',
  'trust-root': 'the certificate or transparency-log entry does not chain to the trusted root; pass the right --trusted-root',
};

/**
 * Verifies that `digest` in `registry` is signed by someone `policy` trusts: some cosign classic
 * signature (tag `sha256-<hex>.sig`) or Sigstore bundle referrer verifies with a trusted key or
 * identity AND names exactly this digest, AND the artefact's manifest is there with bytes that hash
 * to this digest — a signature proves nothing about an artefact that is absent, or whose bytes
 * were swapped in storage. Throws a verification PromoteError (exit 4) naming the check that
 * failed. Requests when a classic signature exists: the manifest by digest (none when the caller
 * passes `manifest`), signature manifest, one payload blob per signature.
 */
export async function verifyBundle(registry: ArtifactReader, digest: string, policy: TrustPolicy, options: VerifyBundleOptions = {}): Promise<BundleVerification> {
  requireSomeTrust(policy, 'bundles');
  await requireSubject(registry, digest, options);
  const verified: VerifiedSignature[] = [];
  const failures: CandidateFailure[] = [];
  const sigManifest = await readSignatureManifest(registry, digest);
  if (sigManifest) {
    for (const layer of sigManifest.layers) {
      const r = await verifyCosignLayer(registry, sigManifest, layer, digest, policy);
      if (r.ok) verified.push(r.signature);
      else failures.push(r);
    }
  }
  if (verified.length === 0 && options.referrers !== false) {
    const descs = await registry.referrers(digest, SIGSTORE_BUNDLE_V03);
    for (const desc of descs) {
      const r = await verifyReferrerBundle(registry, desc, digest, policy);
      if ('signature' in r) verified.push(r.signature);
      else failures.push(r);
    }
    if (!sigManifest && descs.length === 0) {
      const what = options.reference && !options.reference.endsWith(digest) ? `${options.reference} (resolved to ${digest})` : `${registry.name}@${digest}`;
      throw verificationFailed(
        'signature-present',
        `${what} has no signature: no cosign signature manifest at ${`sha256-${digest.slice(7)}.sig`} and no Sigstore bundle referrer`,
        'sign it with `promote sign <ref@digest> --key <private key>`; if it was signed, the tag may have moved to an unsigned digest since',
        { digest, ...(options.reference && { reference: options.reference }) },
      );
    }
  }
  if (verified.length === 0) {
    const best = bestFailure(failures);
    if (!best) {
      throw verificationFailed('signature-present', `${registry.name}@${digest} has a signature manifest with no signature layers`, 'sign it again with `promote sign`', { digest });
    }
    throw verificationFailed(best.check, best.reason, HINTS[best.check] ?? 'the artefact is not signed by a trusted key', {
      digest,
      candidates: failures.map((f) => ({ candidate: f.candidate, check: f.check, reason: f.reason })),
    });
  }
  return { digest, signatures: verified };
}

/** The signed artefact's manifest exists and its bytes hash to `digest` (fetchManifest checks that). */
async function requireSubject(registry: ArtifactReader, digest: string, options: VerifyBundleOptions): Promise<void> {
  if (options.manifest?.descriptor.digest === digest) return;
  const what = `${registry.name}@${digest}`;
  try {
    await registry.fetchManifest(digest);
  } catch (err) {
    if (isNotFound(err)) {
      // A signature without its artefact is an attack or a broken copy (exit 4); no artefact and
      // no signature is a digest that is simply not here (exit 2), and must be told as such.
      const signed = (await readSignatureManifest(registry, digest)) !== undefined || (options.referrers !== false && (await registry.referrers(digest, SIGSTORE_BUNDLE_V03)).length > 0);
      if (!signed) {
        const given = options.reference && !options.reference.endsWith(digest) ? ` (${options.reference})` : '';
        throw new PromoteError('BUNDLE_NOT_FOUND', `bundle ${digest}${given} is not in ${registry.name}`, {
          outcome: 'usage',
          hint: 'check the digest (promote push prints it) and the repository; a bundle pushed elsewhere must be copied here first (promote copy)',
          details: { digest, ...(options.reference && { reference: options.reference }) },
          cause: err,
        });
      }
      throw verificationFailed('subject', `${what} does not exist: there is a signature for it, but no artefact`, HINTS.subject!, { digest }, err);
    }
    if (err instanceof PromoteError && err.code === 'BLOB_DIGEST_MISMATCH') {
      throw verificationFailed('subject', `the manifest the registry returns for ${what} is not that artefact: ${err.message}`, HINTS.subject!, { digest }, err);
    }
    throw err;
  }
}

async function verifyReferrerBundle(registry: ContentReader, desc: Descriptor, digest: string, policy: TrustPolicy): Promise<{ signature: VerifiedBundleSignature } | CandidateFailure> {
  const source = `referrer ${desc.digest}`;
  try {
    const attached = await readAttachedBundle(registry, desc.digest);
    const { statement, signedBy } = verifyStatementBundle(attached.bundle, policy, { subjectDigest: digest }, source);
    if (statement.predicateType !== COSIGN_SIGN_PREDICATE_TYPE) {
      return { candidate: desc.digest, check: 'payload-type', reason: `${source} is an attestation (${statement.predicateType}), not a signature (${COSIGN_SIGN_PREDICATE_TYPE})` };
    }
    return { signature: { kind: 'sigstore-bundle', digest, referrer: desc.digest, predicateType: statement.predicateType, signedBy } };
  } catch (err) {
    const check = failedCheck(err);
    if (!check) throw err;
    return { candidate: desc.digest, check, reason: (err as Error).message.replace(/^verification failed \([^)]*\): /, '') };
  }
}

export function describePolicy(policy: TrustPolicy): string {
  return [...policy.keys.map((k) => `key ${k.source}`), ...policy.identities.map((i) => `keyless ${describeIdentity(i)}`)].join(', ');
}

