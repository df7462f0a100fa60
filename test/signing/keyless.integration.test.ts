import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openRegistry } from '../../src/oci/open.ts';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, OCI_EMPTY, OCI_MANIFEST, SIGSTORE_BUNDLE_V03 } from '../../src/oci/media-types.ts';
import { attachBundle, COSIGN_SIGN_PREDICATE_TYPE, statement } from '../../src/signing/attestation.ts';
import { IN_TOTO_PAYLOAD_TYPE } from '../../src/signing/dsse.ts';
import { verifyBundle } from '../../src/signing/policy.ts';
import { verifySigstoreBundle } from '../../src/signing/sigstore-bundle-verify.ts';
import { artefactManifest, failsCheck, testKey } from './helpers.ts';
import { MOCK_ISSUER, startMockSigstore, type MockSigstore } from './sigstore-mock.ts';

// Keyless verification offline: a private Sigstore (@sigstore/mock's CA, Rekor and TSA on
// 127.0.0.1) issues the certificate; promote checks chain, SCT, tlog, timestamp and identity.

const bin = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

describe('keyless verification against a private Sigstore on 127.0.0.1', () => {
  let sigstore: MockSigstore;
  let dir: string;
  before(async () => {
    sigstore = await startMockSigstore();
    dir = await mkdtemp(join(tmpdir(), 'promote-keyless-'));
  });
  after(async () => {
    await sigstore.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a keyless bundle verifies with the mock trusted root and the right identity; wrong identity, issuer or root fail by name', async () => {
    const payload = Buffer.from(JSON.stringify(statement({ name: 'x', digest: `sha256:${'ab'.repeat(32)}` }, COSIGN_SIGN_PREDICATE_TYPE, {})));
    const bundle = await sigstore.signDsse(payload, IN_TOTO_PAYLOAD_TYPE, 'dev@example.com');
    const trust = { keys: [], trustedRoot: sigstore.trustedRoot };
    const v = verifySigstoreBundle(bundle, { ...trust, identities: [{ subject: 'dev@example.com', issuer: MOCK_ISSUER }] });
    assert.deepEqual(v.signedBy, { kind: 'keyless', subject: 'dev@example.com', issuer: MOCK_ISSUER });
    assert.ok(v.tlogEntries >= 1);
    assert.equal(verifySigstoreBundle(bundle, { ...trust, identities: [{ subjectRegExp: '@example\\.com$', issuerRegExp: '^https://oidc\\.mock\\.' }] }).signedBy.kind, 'keyless');
    assert.throws(() => verifySigstoreBundle(bundle, { ...trust, identities: [{ subject: 'ops@example.com', issuer: MOCK_ISSUER }] }), failsCheck('identity'));
    assert.throws(() => verifySigstoreBundle(bundle, { ...trust, identities: [{ subject: 'dev@example.com', issuer: 'https://token.actions.githubusercontent.com' }] }), failsCheck('identity'));
    // The default (public-good) root does not know the mock CA.
    assert.throws(() => verifySigstoreBundle(bundle, { keys: [], identities: [{ subject: 'dev@example.com', issuer: MOCK_ISSUER }] }), failsCheck('trust-root'));
  });

  test('promote verify --certificate-identity/--certificate-oidc-issuer --trusted-root accepts a keyless cosign v3 referrer and refuses another identity', async () => {
    const layout = join(dir, 'layout');
    const reg = await openRegistry(`oci:${layout}`);
    await reg.pushBlob({ mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 }, EMPTY_JSON);
    const subject = await reg.pushManifest(artefactManifest('keyless'), OCI_MANIFEST, '1.0');
    const stmt = statement({ name: 'webapp', digest: subject.digest }, COSIGN_SIGN_PREDICATE_TYPE, {});
    const bundle = await sigstore.signDsse(Buffer.from(JSON.stringify(stmt)), IN_TOTO_PAYLOAD_TYPE, 'ci@example.com');
    await attachBundle(reg, subject, bundle, COSIGN_SIGN_PREDICATE_TYPE, { artifactType: SIGSTORE_BUNDLE_V03 });
    const root = join(dir, 'trusted_root.json');
    await writeFile(root, JSON.stringify(sigstore.trustedRootJson));

    const base = ['verify', `oci:${layout}:1.0`, '--trusted-root', root, '--certificate-oidc-issuer', MOCK_ISSUER, '--output', 'json'];
    const ok = spawnSync(process.execPath, [bin, ...base, '--certificate-identity', 'ci@example.com'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const body = JSON.parse(ok.stdout);
    assert.equal(body.digest, subject.digest);
    assert.deepEqual(body.signatures[0].signedBy, { kind: 'keyless', subject: 'ci@example.com', issuer: MOCK_ISSUER });
    const bad = spawnSync(process.execPath, [bin, ...base, '--certificate-identity-regexp', '^ops@'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(bad.status, 4, bad.stdout + bad.stderr);
    assert.equal(JSON.parse(bad.stdout).error.details.check, 'identity');
    const half = spawnSync(process.execPath, [bin, 'verify', `oci:${layout}:1.0`, '--certificate-identity', 'ci@example.com'], { encoding: 'utf8' });
    assert.equal(half.status, 2);
    assert.match(half.stderr, /needs both an identity and an issuer/);
  });

  test('verifyBundle with keys and identities: a key signature and a keyless one each satisfy the policy (layout store)', async () => {
    const reg = await openRegistry(`oci:${join(dir, 'mixed')}`);
    await reg.pushBlob({ mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 }, EMPTY_JSON);
    const subject = await reg.pushManifest(artefactManifest('mixed'), OCI_MANIFEST, 'm');
    const stmt = statement({ name: 'webapp', digest: subject.digest }, COSIGN_SIGN_PREDICATE_TYPE, {});
    await attachBundle(reg, subject, await sigstore.signDsse(Buffer.from(JSON.stringify(stmt)), IN_TOTO_PAYLOAD_TYPE, 'ci@example.com'), COSIGN_SIGN_PREDICATE_TYPE, { artifactType: SIGSTORE_BUNDLE_V03 });
    const policy = { keys: [testKey('unrelated').pub], identities: [{ subject: 'ci@example.com', issuer: MOCK_ISSUER }], trustedRoot: sigstore.trustedRoot };
    const v = await verifyBundle(reg, subject.digest, policy);
    assert.equal(v.signatures[0]!.kind, 'sigstore-bundle');
  });
});
