import type { SerializedBundle } from '@sigstore/bundle';
import { isPromoteError, PromoteError } from '../errors.ts';
import { sha256Digest } from '../oci/digest.ts';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, OCI_EMPTY, OCI_MANIFEST, SIGSTORE_BUNDLE_V03, ANNOTATION_CREATED } from '../oci/media-types.ts';
import type { ContentPusher, ContentReader, Descriptor, ImageManifest } from '../oci/registry.ts';
import { isNotFound } from '../oci/not-found.ts';
import { IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_V1, signStatement, type Statement } from './dsse.ts';
import type { Signer } from './signer.ts';
import { verifySigstoreBundle, type SignedBy, type SigstoreTrust } from './sigstore-bundle-verify.ts';
import { verificationFailed } from './verification-error.ts';
import { checkDepth } from '../oci/json-depth.ts';

// Signed statements about a bundle, stored next to it: promotion records, status reports and
// approvals (their formats: src/records/). Each is an in-toto statement in a DSSE envelope in a
// Sigstore bundle v0.3, stored as an OCI artefact whose `subject` is the bundle (cosign v3's
// referrer layout, with our own artifactType), at a tag such as `promotion-<stage>`.

/** What cosign v3 signs when it signs an image with the bundle format. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';

export const BUNDLE_CONTENT_ANNOTATION = 'dev.sigstore.bundle.content';
export const BUNDLE_PREDICATE_TYPE_ANNOTATION = 'dev.sigstore.bundle.predicateType';

/** Largest Sigstore bundle we read (records with parameters stay far below this). */
export const MAX_BUNDLE_BYTES = 1024 * 1024;

export function statement<P>(subject: { name: string; digest: string }, predicateType: string, predicate: P): Statement<P> {
  const colon = subject.digest.indexOf(':');
  return {
    _type: IN_TOTO_STATEMENT_V1,
    subject: [{ name: subject.name, digest: { [subject.digest.slice(0, colon)]: subject.digest.slice(colon + 1) } }],
    predicateType,
    predicate,
  };
}

export interface AttachOptions {
  /** e.g. `application/vnd.promote.promotion.v1+json` (PROMOTION_RECORD) or STATUS_REPORT. */
  artifactType: string;
  /** e.g. `promotion-staging`; the manifest is also findable through the subject's referrers (see referrersIndex). */
  tag?: string;
  annotations?: Record<string, string>;
  /** For the `created` annotation; default now. */
  now?: Date;
  /**
   * False: found by `tag` only, not added to the subject's tag-schema referrers index (the
   * `subject` stays in the manifest, so a registry with the referrers API still lists it).
   * Default true.
   */
  referrersIndex?: boolean;
  /** The bundle was just signed, so the registry cannot hold it yet: upload without asking (signAndAttach). */
  fresh?: boolean;
}

export interface AttachedStatement {
  /** The artefact's manifest descriptor (digest = the record's identity). */
  descriptor: Descriptor;
  subject: Descriptor;
  tag?: string;
}

/**
 * Signs `stmt` and attaches the bundle to `subject` in `registry` (cosign v3 referrer layout:
 * empty config, one layer = the bundle JSON). Returns the artefact's descriptor.
 */
export async function signAndAttach(registry: ContentPusher, subject: Descriptor, stmt: Statement<unknown>, signer: Signer, options: AttachOptions): Promise<AttachedStatement> {
  const bundle = await signStatement(stmt, signer);
  // Just signed (ECDSA signatures are randomised): the registry cannot have these bytes yet.
  return attachBundle(registry, subject, bundle, stmt.predicateType, { ...options, fresh: true });
}

/**
 * Registry clients that have stored the empty config: an agent reports every interval, and need
 * not ask each time whether the repository still has a 2-byte blob every statement shares.
 */
const holdsEmptyConfig = new WeakSet<ContentPusher>();

export async function attachBundle(registry: ContentPusher, subject: Descriptor, bundle: SerializedBundle, predicateType: string, options: AttachOptions): Promise<AttachedStatement> {
  const bytes = Buffer.from(JSON.stringify(bundle), 'utf8');
  const layer: Descriptor = { mediaType: SIGSTORE_BUNDLE_V03, digest: sha256Digest(bytes), size: bytes.length };
  const config: Descriptor = { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON.length };
  const known = holdsEmptyConfig.has(registry);
  if (!known) await registry.pushBlob(config, EMPTY_JSON);
  await registry.pushBlob(layer, bytes, options.fresh ? { assumeMissing: true } : {});
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: options.artifactType,
    config,
    layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      [BUNDLE_CONTENT_ANNOTATION]: 'dsse-envelope',
      [BUNDLE_PREDICATE_TYPE_ANNOTATION]: predicateType,
      [ANNOTATION_CREATED]: (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ...options.annotations,
    },
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  const push = () => registry.pushManifest(manifestBytes, OCI_MANIFEST, options.tag, options.referrersIndex === false ? { referrersIndex: false } : {});
  let descriptor: Descriptor;
  try {
    descriptor = await push();
  } catch (err) {
    // The empty config was deleted since we stored it: store it again, once.
    if (!known || !isPromoteError(err, 'BLOB_NOT_FOUND')) throw err;
    holdsEmptyConfig.delete(registry);
    await registry.pushBlob(config, EMPTY_JSON);
    descriptor = await push();
  }
  holdsEmptyConfig.add(registry);
  return { descriptor: { ...descriptor, artifactType: options.artifactType }, subject: manifest.subject!, ...(options.tag && { tag: options.tag }) };
}

export interface AttachedBundle {
  descriptor: Descriptor;
  manifest: ImageManifest;
  bundle: unknown;
  /** The bytes read: the manifest's (their digest is `descriptor.digest`) and the bundle layer's. */
  manifestBytes: Buffer;
  bundleBytes: Buffer;
}

/** Reads the artefact at `reference` (tag or digest) and the bundle JSON in it. */
export async function readAttachedBundle(registry: ContentReader, reference: string): Promise<AttachedBundle> {
  let fetched;
  try {
    fetched = await registry.fetchManifest(reference);
  } catch (err) {
    if (isNotFound(err)) {
      // Not a verification failure: nothing was stored there (e.g. a stage never promoted).
      throw new PromoteError('RECORD_NOT_FOUND', `${registry.name} has no ${reference}`, {
        hint: reference.startsWith('promotion-') ? 'nothing has been promoted to that stage yet; `promote to <stage>` writes the record' : 'check the tag or digest of the signed statement',
        details: { reference },
        cause: err,
      });
    }
    throw err;
  }
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(fetched.bytes.toString('utf8')) as ImageManifest;
  } catch {
    throw verificationFailed('signature-format', `${registry.name}:${reference} is not a JSON manifest`, 'the tag holds something other than a signed statement', { reference });
  }
  const layer = manifest.layers?.find((l) => l.mediaType === SIGSTORE_BUNDLE_V03 || l.mediaType.startsWith('application/vnd.dev.sigstore.bundle'));
  if (!layer) {
    throw verificationFailed('signature-format', `${registry.name}:${reference} has no Sigstore bundle layer (${SIGSTORE_BUNDLE_V03})`, 'the tag holds something other than a signed statement; it was not written by promote or cosign v3', { reference });
  }
  const bytes = await registry.fetchBlobBytes(layer, MAX_BUNDLE_BYTES);
  let bundle: unknown;
  try {
    bundle = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw verificationFailed('signature-format', `the bundle layer of ${registry.name}:${reference} is not JSON`, 'the signed statement is damaged; write it again', { reference });
  }
  return { descriptor: fetched.descriptor, manifest, bundle, manifestBytes: fetched.bytes, bundleBytes: bytes };
}

export interface VerifiedStatement<P = Record<string, unknown>> {
  /** The attached artefact (e.g. the promotion record) that was verified. */
  descriptor: Descriptor;
  /** The OCI subject it is attached to. */
  subject: Descriptor | undefined;
  statement: Statement<P>;
  signedBy: SignedBy;
}

export interface StatementExpectations {
  predicateType?: string;
  /** The statement must name this digest among its subjects (and the OCI subject must be it). */
  subjectDigest?: string;
}

/** Verifies a DSSE bundle's signature and returns the in-toto statement, checking what is expected. */
export function verifyStatementBundle<P = Record<string, unknown>>(bundle: unknown, trust: SigstoreTrust, expect: StatementExpectations, source: string): { statement: Statement<P>; signedBy: SignedBy } {
  const verified = verifySigstoreBundle(bundle, trust, { source });
  if (verified.content !== 'dsse' || verified.payloadType !== IN_TOTO_PAYLOAD_TYPE || !verified.payload) {
    throw verificationFailed('payload-type', `${source} is signed, but holds ${verified.payloadType ?? 'a message signature'} instead of an in-toto statement`, 'promotion records and status reports are DSSE envelopes of in-toto statements', { source });
  }
  let stmt: Statement<P>;
  try {
    stmt = JSON.parse(verified.payload.toString('utf8')) as Statement<P>;
  } catch {
    throw verificationFailed('payload-type', `${source}: the signed payload is not JSON`, 'the statement was not written by promote or cosign', { source });
  }
  checkDepth(stmt, `the statement of ${source}`); // its values are canonicalised (recursively)
  if (!Array.isArray(stmt.subject) || typeof stmt.predicateType !== 'string') {
    throw verificationFailed('payload-type', `${source}: the signed payload is not an in-toto statement (no subject or predicateType)`, 'the statement was not written by promote or cosign', { source });
  }
  if (expect.predicateType !== undefined && stmt.predicateType !== expect.predicateType) {
    throw verificationFailed('payload-type', `${source} states ${stmt.predicateType}, not ${expect.predicateType}`, 'a statement of another kind was put where this one was expected', { source, predicateType: stmt.predicateType });
  }
  if (expect.subjectDigest !== undefined && !statementNames(stmt, expect.subjectDigest)) {
    const named = stmt.subject.flatMap((s) => Object.entries(s.digest ?? {}).map(([a, h]) => `${a}:${h}`)).join(', ');
    throw verificationFailed('payload-digest', `${source} is validly signed but is about ${named || 'nothing'}, not ${expect.subjectDigest}: it was copied (replayed) from another artefact`, 'verify the record attached to this bundle; do not copy records between bundles', { source, expected: expect.subjectDigest });
  }
  return { statement: stmt, signedBy: verified.signedBy };
}

export function statementNames(stmt: Statement<unknown>, digest: string): boolean {
  const colon = digest.indexOf(':');
  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  return stmt.subject.some((s) => s.digest?.[algorithm] === hex);
}

/**
 * Reads and verifies the statement attached at `reference` (tag like `promotion-staging`, or
 * digest). The OCI `subject` and the signed statement's subject must agree: a record cannot be
 * re-attached to another bundle.
 */
export async function verifyAttachedStatement<P = Record<string, unknown>>(registry: ContentReader, reference: string, trust: SigstoreTrust, expect: StatementExpectations = {}): Promise<VerifiedStatement<P>> {
  return verifyAttachedBundle<P>(await readAttachedBundle(registry, reference), `${registry.name}:${reference}`, trust, expect);
}

/** verifyAttachedStatement on an artefact already read (readAttachedBundle). */
export function verifyAttachedBundle<P = Record<string, unknown>>(attached: AttachedBundle, source: string, trust: SigstoreTrust, expect: StatementExpectations = {}): VerifiedStatement<P> {
  const subjectDigest = expect.subjectDigest ?? attached.manifest.subject?.digest;
  if (expect.subjectDigest !== undefined && attached.manifest.subject?.digest !== undefined && attached.manifest.subject.digest !== expect.subjectDigest) {
    throw verificationFailed('record', `${source} is attached to ${attached.manifest.subject.digest}, not ${expect.subjectDigest}`, 'the tag points at a record of another bundle', { source });
  }
  const { statement: stmt, signedBy } = verifyStatementBundle<P>(attached.bundle, trust, { ...expect, ...(subjectDigest !== undefined && { subjectDigest }) }, source);
  return { descriptor: attached.descriptor, subject: attached.manifest.subject, statement: stmt, signedBy };
}
