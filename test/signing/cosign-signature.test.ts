import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PromoteError } from '../../src/errors.ts';
import { sha256Digest } from '../../src/oci/digest.ts';
import { OCI_MANIFEST, EMPTY_JSON, EMPTY_JSON_DIGEST, OCI_EMPTY } from '../../src/oci/media-types.ts';
import { signAndAttach, statement, COSIGN_SIGN_PREDICATE_TYPE } from '../../src/signing/attestation.ts';
import { COSIGN_SIGNATURE_ANNOTATION, readSignatureManifest, signatureTag, signBundle } from '../../src/signing/cosign-signature.ts';
import { verifyBundle, type TrustPolicy } from '../../src/signing/policy.ts';
import { SIGSTORE_BUNDLE_V03 } from '../../src/oci/media-types.ts';
import { FakeRegistry } from './fake-registry.ts';
import { artefactManifest, testKey } from './helpers.ts';

const ci = testKey('ci');
const other = testKey('other');
const policy = (...keys: ReturnType<typeof testKey>[]): TrustPolicy => ({ keys: keys.map((k) => k.pub), identities: [] });

async function setup() {
  const reg = new FakeRegistry();
  await reg.pushBlob({ mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 }, EMPTY_JSON);
  const a = await reg.pushManifest(artefactManifest('a'), OCI_MANIFEST, '1.0');
  const b = await reg.pushManifest(artefactManifest('b'), OCI_MANIFEST, '2.0');
  return { reg, a: a.digest, b: b.digest };
}

function rejectsWith(check: string, code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof PromoteError, String(err));
    assert.equal(err.code, code, err.message);
    assert.equal(err.exitCode, 4);
    assert.equal(err.details?.check, check);
    assert.match(err.message, new RegExp(`\\(${check} check\\)`));
    return true;
  };
}

test('sign then verify round trip, payload and manifest exactly as cosign writes them (in-process fake)', async () => {
  const { reg, a } = await setup();
  const r = await signBundle(reg, a, ci.signer, 'fake.example/acme/webapp');
  assert.equal(r.signatureTag, `sha256-${a.slice(7)}.sig`);
  const sig = await readSignatureManifest(reg, a);
  assert.ok(sig);
  assert.equal(sig.manifest.mediaType, OCI_MANIFEST);
  assert.equal(sig.manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  const layer = sig.manifest.layers[0]!;
  assert.equal(layer.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
  assert.deepEqual(Object.keys(layer), ['mediaType', 'size', 'digest', 'annotations']);
  assert.equal(
    reg.blobs.get(layer.digest)!.toString(),
    `{"critical":{"identity":{"docker-reference":"fake.example/acme/webapp"},"image":{"docker-manifest-digest":"${a}"},"type":"cosign container image signature"},"optional":null}`,
  );
  const config = JSON.parse(reg.blobs.get(sig.manifest.config.digest)!.toString());
  assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: [layer.digest] });
  const v = await verifyBundle(reg, a, policy(ci));
  assert.equal(v.digest, a);
  assert.equal(v.signatures.length, 1);
  assert.equal(v.signatures[0]!.kind, 'cosign');
});

test('signing again with another key appends and keeps the first; the same key again is deduplicated (in-process fake)', async () => {
  const { reg, a } = await setup();
  await signBundle(reg, a, ci.signer, 'r');
  const second = await signBundle(reg, a, other.signer, 'r');
  assert.equal(second.signatures, 2);
  assert.equal(second.added, true);
  const again = await signBundle(reg, a, ci.signer, 'r');
  assert.equal(again.added, false);
  assert.equal(again.signatures, 2);
  const config = JSON.parse(reg.blobs.get((await readSignatureManifest(reg, a))!.manifest.config.digest)!.toString());
  assert.equal(config.rootfs.diff_ids.length, 2);
  assert.equal((await verifyBundle(reg, a, policy(ci))).signatures.length, 1);
  assert.equal((await verifyBundle(reg, a, policy(ci, other))).signatures.length, 2);
});

test('verify with the wrong key fails the signature check (in-process fake)', async () => {
  const { reg, a } = await setup();
  await signBundle(reg, a, ci.signer, 'r');
  await assert.rejects(verifyBundle(reg, a, policy(other)), rejectsWith('signature', 'SIGNATURE_INVALID'));
});

test('a tampered payload (new layer, old signature) fails the signature check (in-process fake)', async () => {
  const { reg, a, b } = await setup();
  await signBundle(reg, a, ci.signer, 'r');
  const sig = (await readSignatureManifest(reg, a))!;
  const evil = Buffer.from(reg.blobs.get(sig.manifest.layers[0]!.digest)!.toString().replace('"docker-reference":"r"', '"docker-reference":"evil"'));
  const layer = { ...sig.manifest.layers[0]!, digest: sha256Digest(evil), size: evil.length };
  await reg.pushBlob(layer, evil);
  await reg.putJson({ ...sig.manifest, layers: [layer] }, signatureTag(a));
  await assert.rejects(verifyBundle(reg, a, policy(ci)), rejectsWith('signature', 'SIGNATURE_INVALID'));
});

test('a payload blob changed in the registry under the same digest fails the signature check (in-process fake)', async () => {
  const { reg, a } = await setup();
  await signBundle(reg, a, ci.signer, 'r');
  const sig = (await readSignatureManifest(reg, a))!;
  reg.blobs.set(sig.manifest.layers[0]!.digest, Buffer.from('{"tampered":true}'));
  await assert.rejects(verifyBundle(reg, a, policy(ci)), rejectsWith('signature', 'SIGNATURE_INVALID'));
});

test('a signature replayed onto another digest fails the payload-digest check (in-process fake)', async () => {
  const { reg, a, b } = await setup();
  await signBundle(reg, a, ci.signer, 'r');
  const sig = (await readSignatureManifest(reg, a))!;
  reg.tags.set(signatureTag(b), sig.digest);
  await assert.rejects(verifyBundle(reg, b, policy(ci)), rejectsWith('payload-digest', 'SIGNATURE_DIGEST_MISMATCH'));
});

test('no signature manifest fails the signature-present check (in-process fake)', async () => {
  const { reg, a } = await setup();
  await assert.rejects(verifyBundle(reg, a, policy(ci), { reference: 'fake.example/acme/webapp:1.0' }), (err: unknown) => {
    rejectsWith('signature-present', 'SIGNATURE_MISSING')(err);
    assert.match((err as Error).message, /:1\.0 \(resolved to sha256:/);
    return true;
  });
});

for (const [name, mutate] of [
  ['base64', (s: string) => `${s.slice(0, 10)}!!${s.slice(12)}`],
  ['DER', (s: string) => Buffer.from(Buffer.from(s, 'base64').subarray(0, 20)).toString('base64')],
] as const) {
  test(`a signature with corrupted ${name} fails the signature-encoding check (in-process fake)`, async () => {
    const { reg, a } = await setup();
    await signBundle(reg, a, ci.signer, 'r');
    const sig = (await readSignatureManifest(reg, a))!;
    const layer = sig.manifest.layers[0]!;
    const bad = { ...layer, annotations: { [COSIGN_SIGNATURE_ANNOTATION]: mutate(layer.annotations![COSIGN_SIGNATURE_ANNOTATION]!) } };
    await reg.putJson({ ...sig.manifest, layers: [bad] }, signatureTag(a));
    await assert.rejects(verifyBundle(reg, a, policy(ci)), rejectsWith('signature-encoding', 'SIGNATURE_MALFORMED'));
  });
}

test('the best-progressed failure is reported when several signatures fail (in-process fake)', async () => {
  const { reg, a, b } = await setup();
  await signBundle(reg, a, ci.signer, 'r');
  await signBundle(reg, b, other.signer, 'r');
  // b's .sig now holds a's layer (replayed, verifies with ci) next to other's own.
  const sa = (await readSignatureManifest(reg, a))!;
  const sb = (await readSignatureManifest(reg, b))!;
  await reg.putJson({ ...sb.manifest, layers: [...sb.manifest.layers, ...sa.manifest.layers] }, signatureTag(b));
  await assert.rejects(verifyBundle(reg, b, policy(ci)), rejectsWith('payload-digest', 'SIGNATURE_DIGEST_MISMATCH'));
});

test('a cosign v3 style Sigstore bundle referrer verifies when there is no .sig tag (in-process fake)', async () => {
  const { reg, a } = await setup();
  const subject = (await reg.resolve(a))!;
  await signAndAttach(reg, subject, statement({ name: 'fake.example/acme/webapp', digest: a }, COSIGN_SIGN_PREDICATE_TYPE, {}), ci.signer, { artifactType: SIGSTORE_BUNDLE_V03 });
  const v = await verifyBundle(reg, a, policy(ci));
  assert.equal(v.signatures[0]!.kind, 'sigstore-bundle');
  await assert.rejects(verifyBundle(reg, a, policy(other)), rejectsWith('signature', 'SIGNATURE_INVALID'));
});

test('a referrer bundle whose statement names another digest fails payload-digest (in-process fake)', async () => {
  const { reg, a, b } = await setup();
  const subject = (await reg.resolve(b))!;
  await signAndAttach(reg, subject, statement({ name: 'x', digest: a }, COSIGN_SIGN_PREDICATE_TYPE, {}), ci.signer, { artifactType: SIGSTORE_BUNDLE_V03 });
  await assert.rejects(verifyBundle(reg, b, policy(ci)), rejectsWith('payload-digest', 'SIGNATURE_DIGEST_MISMATCH'));
});

test('a tag moved while verifying: the digest resolved first is the one verified and reported, the tag is not asked again (in-process fake)', async () => {
  const { verifyReference } = await import('../../src/artifact/verify.ts');
  const { reg, a, b } = await setup();
  await signBundle(reg, a, ci.signer, 'r');
  // The registry moves tag 1.0 to the unsigned b right after answering the first lookup of it.
  const resolve = reg.resolve.bind(reg);
  reg.resolve = async (reference: string) => {
    const answer = await resolve(reference);
    if (reference === '1.0') reg.tags.set('1.0', b);
    return answer;
  };
  const fetchManifest = reg.fetchManifest.bind(reg);
  reg.fetchManifest = async (reference: string) => {
    const answer = await fetchManifest(reference);
    if (reference === '1.0') reg.tags.set('1.0', b);
    return answer;
  };
  const v = await verifyReference('fake.example/acme/webapp:1.0', policy(ci), { registry: reg });
  assert.equal(v.digest, a);
  assert.equal(v.reference, `fake.example/acme/webapp@${a}`);
  assert.equal(reg.calls.filter((c) => c === 'resolve 1.0' || c === 'fetchManifest 1.0').length, 1);
  // Verifying again now resolves to b, which nothing signed.
  await assert.rejects(verifyReference('fake.example/acme/webapp:1.0', policy(ci), { registry: reg }), rejectsWith('signature-present', 'SIGNATURE_MISSING'));
});
