import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { PromoteError } from '../../src/errors.ts';
import { signStatement } from '../../src/signing/dsse.ts';
import { parseVerificationKey, readVerificationKey } from '../../src/signing/keys.ts';
import { verifySigstoreBundle } from '../../src/signing/sigstore-bundle-verify.ts';
import { emptyTrustedRoot, publicGoodTrustedRoot, readTrustedRoot } from '../../src/signing/trusted-root.ts';
import { statement, verifyStatementBundle } from '../../src/signing/attestation.ts';
import { failsCheck, testKey } from './helpers.ts';
import { PROMOTION_PREDICATE_TYPE } from '../../src/records/promotion-record.ts';

const FIX = new URL('../fixtures/cosign-interop/', import.meta.url).pathname;
const json = async (p: string) => JSON.parse(await readFile(`${FIX}${p}`, 'utf8')) as unknown;

test('conformance managed-key-happy-path verifies over a.txt with its key and the public-good root (offline)', async () => {
  const key = await readVerificationKey(`${FIX}conformance/managed-key-happy-path/key.pub`);
  const v = verifySigstoreBundle(await json('conformance/managed-key-happy-path/bundle.sigstore.json'), { keys: [key], identities: [] }, { artifact: await readFile(`${FIX}conformance/a.txt`) });
  assert.equal(v.content, 'message-signature');
  assert.equal(v.signedBy.kind, 'key');
  assert.equal(v.tlogEntries, 1);
});

test('conformance managed-key-and-trusted-root verifies against its own trusted root', async () => {
  const key = await readVerificationKey(`${FIX}conformance/managed-key-and-trusted-root/key.pub`);
  const root = await readTrustedRoot(`${FIX}conformance/managed-key-and-trusted-root/trusted_root.json`);
  const bundle = await json('conformance/managed-key-and-trusted-root/bundle.sigstore.json');
  const artifact = await readFile(`${FIX}conformance/a.txt`);
  assert.equal(verifySigstoreBundle(bundle, { keys: [key], identities: [], trustedRoot: root }, { artifact }).signedBy.kind, 'key');
  // Its Rekor entry is from the staging log, which the public-good root does not hold.
  assert.throws(() => verifySigstoreBundle(bundle, { keys: [key], identities: [] }, { artifact }), failsCheck('trust-root'));
});

test('conformance managed-key-wrong-key_fail does not verify: its key is not even a valid point', async () => {
  await assert.rejects(readVerificationKey(`${FIX}conformance/managed-key-wrong-key_fail/key.pub`), failsCheck('key-type'));
  const other = testKey('other').pub;
  const bundle = await json('conformance/managed-key-wrong-key_fail/bundle.sigstore.json');
  assert.throws(() => verifySigstoreBundle(bundle, { keys: [other], identities: [] }, { artifact: Buffer.from('a.txt') }), failsCheck('signature'));
});

test('a tampered artifact fails the signature check for a message-signature bundle', async () => {
  const key = await readVerificationKey(`${FIX}conformance/managed-key-happy-path/key.pub`);
  const bundle = await json('conformance/managed-key-happy-path/bundle.sigstore.json');
  assert.throws(() => verifySigstoreBundle(bundle, { keys: [key], identities: [] }, { artifact: Buffer.from('not a.txt') }), (err: unknown) => err instanceof PromoteError && err.exitCode === 4);
});

test("cosign's oci-attestation.sigstore.json verifies keyless against trusted_root_pgi.json offline, identity checked", async () => {
  const root = await readTrustedRoot(`${FIX}cosign/trusted_root_pgi.json`);
  const bundle = await json('cosign/oci-attestation.sigstore.json');
  const v = verifySigstoreBundle(bundle, { keys: [], identities: [{ subject: 'cody@soyland.com', issuer: 'https://github.com/login/oauth' }], trustedRoot: root });
  assert.deepEqual(v.signedBy, { kind: 'keyless', subject: 'cody@soyland.com', issuer: 'https://github.com/login/oauth' });
  assert.equal(v.payloadType, 'application/vnd.in-toto+json');
  const regexp = verifySigstoreBundle(bundle, { keys: [], identities: [{ subjectRegExp: '^cody@', issuerRegExp: '^https://github\\.com/' }], trustedRoot: root });
  assert.equal(regexp.signedBy.kind, 'keyless');
  assert.throws(() => verifySigstoreBundle(bundle, { keys: [], identities: [{ subject: 'someone@else.com', issuer: 'https://github.com/login/oauth' }], trustedRoot: root }), failsCheck('identity'));
  assert.throws(() => verifySigstoreBundle(bundle, { keys: [], identities: [{ subject: 'cody@soyland.com', issuer: 'https://accounts.google.com' }], trustedRoot: root }), failsCheck('identity'));
  assert.throws(() => verifySigstoreBundle(bundle, { keys: [], identities: [{ subject: 'cody@soyland.com', issuer: 'https://github.com/login/oauth' }], trustedRoot: emptyTrustedRoot() }), failsCheck('trust-root'));
  // Only keys trusted: a keyless bundle is refused by name.
  assert.throws(() => verifySigstoreBundle(bundle, { keys: [testKey('k').pub], identities: [], trustedRoot: root }), failsCheck('identity'));
});

test('the public-good trusted root loads offline from @sigstore/tuf seeds', () => {
  const root = publicGoodTrustedRoot();
  assert.ok(root.tlogs.some((t) => t.baseUrl === 'https://rekor.sigstore.dev'));
  assert.ok(root.certificateAuthorities.length > 0);
});

test('DSSE statement bundles: v0.3, empty keyid, verify with the key only, tampering detected', async () => {
  const k = testKey('promoter');
  const digest = `sha256:${'ab'.repeat(32)}`;
  const bundle = (await signStatement(statement({ name: 'reg/acme/webapp', digest }, PROMOTION_PREDICATE_TYPE, { stage: 'staging' }), k.signer)) as {
    mediaType: string;
    dsseEnvelope: { payload: string; signatures: { keyid?: string; sig: string }[] };
    verificationMaterial: { tlogEntries?: unknown[] };
  };
  assert.equal(bundle.mediaType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  // Empty keyid, as cosign writes it (the protobuf JSON form omits the empty string).
  assert.ok([undefined, ''].includes(bundle.dsseEnvelope.signatures[0]!.keyid));
  const ok = verifyStatementBundle(bundle, { keys: [k.pub], identities: [] }, { predicateType: PROMOTION_PREDICATE_TYPE, subjectDigest: digest }, 'record');
  assert.deepEqual(ok.statement.predicate, { stage: 'staging' });
  assert.throws(() => verifyStatementBundle(bundle, { keys: [testKey('x').pub], identities: [] }, {}, 'record'), failsCheck('signature'));
  assert.throws(() => verifyStatementBundle(bundle, { keys: [k.pub], identities: [] }, { subjectDigest: `sha256:${'cd'.repeat(32)}` }, 'record'), failsCheck('payload-digest'));
  assert.throws(() => verifyStatementBundle(bundle, { keys: [k.pub], identities: [] }, { predicateType: 'https://example.com/other' }, 'record'), failsCheck('payload-type'));
  const payload = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
  payload.predicate.stage = 'production';
  const tampered = { ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, payload: Buffer.from(JSON.stringify(payload)).toString('base64') } };
  assert.throws(() => verifyStatementBundle(tampered, { keys: [k.pub], identities: [] }, {}, 'record'), failsCheck('signature'));
  assert.throws(() => verifyStatementBundle({ mediaType: 'nope' }, { keys: [k.pub], identities: [] }, {}, 'record'), failsCheck('signature-format'));
  const rsaLike = parseVerificationKey(k.signer.publicKeyPem, 'same');
  assert.equal(verifyStatementBundle(bundle, { keys: [testKey('y').pub, rsaLike], identities: [] }, {}, 'record').signedBy.kind, 'key');
});
