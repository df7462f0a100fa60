import { createHash } from 'node:crypto';
import { sha256Digest } from '../oci/digest.ts';
import { OCI_MANIFEST, SIGSTORE_BUNDLE_V03 } from '../oci/media-types.ts';
import type { ImageManifest } from '../oci/registry.ts';
import { statementNames, type VerifiedStatement } from '../signing/attestation.ts';
import { IN_TOTO_PAYLOAD_TYPE, type Statement } from '../signing/dsse.ts';
import type { TrustPolicy } from '../signing/policy.ts';
import type { SignedBy } from '../signing/sigstore-bundle-verify.ts';
import type { ReportKey } from './status-report.ts';

// A signed statement verified once and kept (promotion/report-cache.ts keeps status reports so),
// taken up again only by the digest of the manifest it came in: the bytes are checked against
// that digest, so an entry is exactly what the registry names now, and the signature's verdict
// is reused only under the trust policy that reached it (verifiedByKey).

/** A report as it was read and verified: the bytes, and who signed it. */
export interface CachedReport {
  /** The report manifest's digest (sha256 of `manifestBytes`). */
  digest: string;
  manifestBytes: Buffer;
  bundleBytes: Buffer;
  signedBy: SignedBy;
}

/**
 * Each cluster's last verified report (promotion/report-cache.ts keeps them on disk), under
 * `verifiedBy`: the trust policy and checks that verified it. Untrusted storage: an entry is used
 * only when its bytes hash to the digest a HEAD of the tag names now.
 */
export interface VerifiedReportCache {
  get(key: ReportKey, verifiedBy: string): Promise<CachedReport | undefined>;
  put(key: ReportKey, verifiedBy: string, report: CachedReport): Promise<void>;
}

/**
 * Names the policy and the checks a cached report was verified under: any change to the keys,
 * identities, their scopes or the trusted root makes every entry a miss.
 */
export function verifiedByKey(policy: TrustPolicy, predicateType: string): string {
  const h = createHash('sha256').update(`${predicateType}\nsubject=manifest.subject\n`);
  for (const k of policy.keys) h.update(JSON.stringify(['key', k.pem, k.scope ?? null]));
  for (const i of policy.identities) h.update(JSON.stringify(['keyless', i]));
  h.update(JSON.stringify(['root', policy.trustedRoot ?? null]));
  return h.digest('hex');
}

/**
 * A cached report, if it is still the one at the tag: its manifest bytes hash to `digest`, and
 * its bundle to the manifest's bundle layer. Then the statement is taken from the bundle whose
 * signature verified when it was cached (the same checks as verifyAttachedBundle, bar the
 * signature arithmetic); anything else is a miss, and the report is read again.
 */
export function cachedStatement<P>(hit: CachedReport, digest: string, predicateType: string, parse: (predicate: unknown, source: string) => P, source: string): VerifiedStatement<P> | undefined {
  if (hit.digest !== digest || sha256Digest(hit.manifestBytes) !== digest) return undefined;
  try {
    const manifest = JSON.parse(hit.manifestBytes.toString('utf8')) as ImageManifest;
    const layer = manifest.layers?.find((l) => l.mediaType === SIGSTORE_BUNDLE_V03 || l.mediaType.startsWith('application/vnd.dev.sigstore.bundle'));
    if (!layer || layer.digest !== sha256Digest(hit.bundleBytes) || layer.size !== hit.bundleBytes.length) return undefined;
    const env = (JSON.parse(hit.bundleBytes.toString('utf8')) as { dsseEnvelope?: { payload?: unknown; payloadType?: unknown } }).dsseEnvelope;
    if (typeof env?.payload !== 'string' || env.payloadType !== IN_TOTO_PAYLOAD_TYPE) return undefined;
    const stmt = JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as Statement<unknown>;
    const subject = manifest.subject?.digest;
    if (stmt.predicateType !== predicateType || !Array.isArray(stmt.subject) || subject === undefined || !statementNames(stmt, subject)) return undefined;
    const predicate = parse(stmt.predicate, source);
    return { descriptor: { mediaType: manifest.mediaType ?? OCI_MANIFEST, digest, size: hit.manifestBytes.length }, subject: manifest.subject, statement: { ...stmt, predicate }, signedBy: hit.signedBy };
  } catch {
    return undefined;
  }
}

