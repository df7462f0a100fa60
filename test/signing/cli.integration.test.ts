import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Digest } from '../../src/oci/digest.ts';
import { HttpRegistry } from '../../src/oci/http-registry.ts';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, OCI_EMPTY, OCI_MANIFEST, DOCKER_MANIFEST, COSIGN_SIMPLESIGNING, OCI_IMAGE_CONFIG } from '../../src/oci/media-types.ts';
import { parseReference, type RegistryReference } from '../../src/oci/reference.ts';
import { COSIGN_SIGNATURE_ANNOTATION, readSignatureManifest, signatureTag } from '../../src/signing/cosign-signature.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { promote as run, type Run } from '../cli/run-promote.ts';
import { artefactManifest } from './helpers.ts';

// The signing commands as users run them: the built CLI spawned against a real registry.

const FIX = fileURLToPath(new URL('../fixtures/cosign-interop/', import.meta.url));

let work: string;
let reg: RegistryServer;

function promote(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return run(args, { cwd: work, env: { PATH: process.env.PATH ?? '', HOME: work, DOCKER_CONFIG: join(work, 'docker'), NO_COLOR: '1', PROMOTE_PASSWORD: 'pw', ...env } });
}

function repo(name: string): HttpRegistry {
  return new HttpRegistry(parseReference(`${reg.host}/${name}`) as RegistryReference, {
    insecure: true,
    env: {},
    dockerConfig: join(work, 'docker', 'config.json'),
  });
}

async function pushArtefact(r: HttpRegistry, label: string, tag: string): Promise<string> {
  await r.pushBlob({ mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 }, EMPTY_JSON);
  return (await r.pushManifest(artefactManifest(label), OCI_MANIFEST, tag)).digest;
}

function assertFailedCheck(r: Run, check: string, code: string): void {
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, new RegExp(`^error: verification failed \\(${check} check\\): `), r.stderr);
  assert.match(r.stderr, /\nhint: /);
  void code;
}

async function assertFailedCheckJson(args: string[], check: string, code: string): Promise<void> {
  const r = await promote([...args, '--output', 'json']);
  assert.equal(r.code, 4, r.stdout);
  const body = JSON.parse(r.stdout);
  assert.equal(body.error.code, code);
  assert.equal(body.error.details.check, check);
}

describe('promote keygen / sign / verify against a real registry', () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'promote-sign-cli-'));
    await mkdir(join(work, 'docker'));
    await writeFile(join(work, 'docker', 'config.json'), '{}');
    reg = await startRegistry();
    const k1 = await promote(['keygen', 'ci']);
    assert.equal(k1.code, 0, k1.stderr);
    const k2 = await promote(['keygen', 'other']);
    assert.equal(k2.code, 0, k2.stderr);
  });
  after(async () => {
    await reg?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('keygen writes ci.key 0600 in cosign format, ci.pub, and refuses to overwrite', async () => {
    assert.equal((await stat(join(work, 'ci.key'))).mode & 0o777, 0o600);
    assert.match(await readFile(join(work, 'ci.key'), 'utf8'), /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----/);
    assert.match(await readFile(join(work, 'ci.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
    const again = await promote(['keygen', 'ci']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /ci\.key already exists/);
    assert.match(again.stderr, /hint: .*--force/);
  });

  test('sign by digest, then verify the tag: prints repository@digest and exits 0', async () => {
    const r = repo('acme/roundtrip');
    const digest = await pushArtefact(r, 'roundtrip', '1.0');
    const signed = await promote(['sign', `${reg.host}/acme/roundtrip@${digest}`, '--key', 'ci.key', '--insecure']);
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal(signed.stdout, `signed ${reg.host}/acme/roundtrip@${digest}\n`);
    const v = await promote(['verify', `${reg.host}/acme/roundtrip:1.0`, '--key', 'ci.pub', '--insecure']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `${reg.host}/acme/roundtrip@${digest}\n`);
    const json = await promote(['verify', `${reg.host}/acme/roundtrip:1.0`, '--key', 'other.pub', '--key', 'ci.pub', '--insecure', '--output', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout);
    assert.equal(body.digest, digest);
    assert.equal(body.resolvedFrom, '1.0');
    assert.equal(body.signatures[0].key, 'ci.pub');
    assert.equal(body.signatures[0].dockerReference, `${reg.host}/acme/roundtrip`);
  });

  test('sign refuses a tag-only reference and shows the digest the tag points at (exit 2)', async () => {
    const r = repo('acme/tagonly');
    const digest = await pushArtefact(r, 'tagonly', 'latest');
    const s = await promote(['sign', `${reg.host}/acme/tagonly:latest`, '--key', 'ci.key', '--insecure']);
    assert.equal(s.code, 2);
    assert.ok(s.stderr.includes(digest), s.stderr);
  });

  test('sign with the wrong key password exits 1 naming the key, never printing key material', async () => {
    const r = repo('acme/badpw');
    const digest = await pushArtefact(r, 'badpw', '1');
    const s = await promote(['sign', `${reg.host}/acme/badpw@${digest}`, '--key', 'ci.key', '--insecure'], { PROMOTE_PASSWORD: 'nope' });
    assert.equal(s.code, 1);
    assert.match(s.stderr, /cannot decrypt private key .*ci\.key: wrong password/);
    assert.doesNotMatch(s.stderr + s.stdout, /ciphertext|PRIVATE KEY-----/);
    const debug = await promote(['sign', `${reg.host}/acme/badpw@${digest}`, '--key', 'ci.key', '--insecure', '--debug'], { PROMOTE_PASSWORD: 'nope' });
    assert.equal(debug.code, 1);
    const keyBody = (await readFile(join(work, 'ci.key'), 'utf8')).split('\n')[1]!;
    assert.ok(!(debug.stderr + debug.stdout).includes(keyBody.slice(0, 40)));
    assert.doesNotMatch(debug.stderr + debug.stdout, /ciphertext|PRIVATE KEY-----|"pw"/);
  });

  test('verify with the wrong key exits 4 naming the signature check', async () => {
    const r = repo('acme/wrongkey');
    const digest = await pushArtefact(r, 'wrongkey', '1');
    assert.equal((await promote(['sign', `${reg.host}/acme/wrongkey@${digest}`, '--key', 'ci.key', '--insecure'])).code, 0);
    assertFailedCheck(await promote(['verify', `${reg.host}/acme/wrongkey:1`, '--key', 'other.pub', '--insecure']), 'signature', 'SIGNATURE_INVALID');
    await assertFailedCheckJson(['verify', `${reg.host}/acme/wrongkey:1`, '--key', 'other.pub', '--insecure'], 'signature', 'SIGNATURE_INVALID');
  });

  test('a tampered payload, a replayed signature and corrupted base64/DER each fail with their check', async () => {
    const r = repo('acme/tamper');
    const a = await pushArtefact(r, 'tamper-a', 'a');
    const b = await pushArtefact(r, 'tamper-b', 'b');
    const c = await pushArtefact(r, 'tamper-c', 'c');
    const d = await pushArtefact(r, 'tamper-d', 'd');
    const e = await pushArtefact(r, 'tamper-e', 'e');
    for (const x of [a, c, d, e]) assert.equal((await promote(['sign', `${reg.host}/acme/tamper@${x}`, '--key', 'ci.key', '--insecure'])).code, 0);
    const sig = (await readSignatureManifest(r, a))!;
    const pushSig = async (target: string, layers: unknown[]) => {
      await r.pushManifest(Buffer.from(JSON.stringify({ ...sig.manifest, layers })), OCI_MANIFEST, signatureTag(target));
    };
    // Replay: a's signature manifest, unchanged, at b's signature tag.
    await pushSig(b, sig.manifest.layers);
    assertFailedCheck(await promote(['verify', `${reg.host}/acme/tamper:b`, '--key', 'ci.pub', '--insecure']), 'payload-digest', 'SIGNATURE_DIGEST_MISMATCH');
    // Tampered: c's payload rewritten to name another repository, old signature kept.
    const cs = (await readSignatureManifest(r, c))!;
    const payload = Buffer.from((await r.fetchBlobBytes(cs.manifest.layers[0]!)).toString().replace('acme/tamper', 'evil/tamper'));
    const layer = { ...cs.manifest.layers[0]!, digest: sha256Digest(payload), size: payload.length };
    await r.pushBlob(layer, payload);
    await r.pushManifest(Buffer.from(JSON.stringify({ ...cs.manifest, layers: [layer] })), OCI_MANIFEST, signatureTag(c));
    assertFailedCheck(await promote(['verify', `${reg.host}/acme/tamper:c`, '--key', 'ci.pub', '--insecure']), 'signature', 'SIGNATURE_INVALID');
    // Corrupted base64 and DER.
    for (const [x, mutate] of [[d, (s: string) => `${s.slice(0, 8)}%%${s.slice(10)}`], [e, (s: string) => Buffer.from(s, 'base64').subarray(0, 30).toString('base64')]] as const) {
      const xs = (await readSignatureManifest(r, x))!;
      const l = xs.manifest.layers[0]!;
      await r.pushManifest(Buffer.from(JSON.stringify({ ...xs.manifest, layers: [{ ...l, annotations: { [COSIGN_SIGNATURE_ANNOTATION]: mutate(l.annotations![COSIGN_SIGNATURE_ANNOTATION]!) } }] })), OCI_MANIFEST, signatureTag(x));
    }
    assertFailedCheck(await promote(['verify', `${reg.host}/acme/tamper@${d}`, '--key', 'ci.pub', '--insecure']), 'signature-encoding', 'SIGNATURE_MALFORMED');
    assertFailedCheck(await promote(['verify', `${reg.host}/acme/tamper@${e}`, '--key', 'ci.pub', '--insecure']), 'signature-encoding', 'SIGNATURE_MALFORMED');
  });

  test('an unsigned digest, and a tag moved after signing, fail the signature-present check naming the resolved digest', async () => {
    const r = repo('acme/moved');
    const signedDigest = await pushArtefact(r, 'moved-1', 'stable');
    assert.equal((await promote(['sign', `${reg.host}/acme/moved@${signedDigest}`, '--key', 'ci.key', '--insecure'])).code, 0);
    assert.equal((await promote(['verify', `${reg.host}/acme/moved:stable`, '--key', 'ci.pub', '--insecure'])).code, 0);
    const moved = await pushArtefact(r, 'moved-2', 'stable');
    const v = await promote(['verify', `${reg.host}/acme/moved:stable`, '--key', 'ci.pub', '--insecure']);
    assertFailedCheck(v, 'signature-present', 'SIGNATURE_MISSING');
    assert.ok(v.stderr.includes(`resolved to ${moved}`), v.stderr);
  });

  test('verify fails the subject check when the signed manifest was deleted, or its stored bytes replaced by another artefact\'s (only the .sig is left)', async () => {
    const r = repo('acme/subject');
    const digest = await pushArtefact(r, 'subject', '1');
    const other = await pushArtefact(r, 'other', '2');
    assert.equal((await promote(['sign', `${reg.host}/acme/subject@${digest}`, '--key', 'ci.key', '--insecure'])).code, 0);
    assert.equal((await promote(['verify', `${reg.host}/acme/subject@${digest}`, '--key', 'ci.pub', '--insecure'])).code, 0);

    // Whoever can write the registry's storage swaps the signed manifest's bytes for another's.
    const blob = (d: string) => join(reg.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', d.slice(7, 9), d.slice(7), 'data');
    const original = await readFile(blob(digest));
    await writeFile(blob(digest), await readFile(blob(other)));
    const swapped = await promote(['verify', `${reg.host}/acme/subject@${digest}`, '--key', 'ci.pub', '--insecure']);
    assertFailedCheck(swapped, 'subject', 'SUBJECT_INVALID');
    assert.match(swapped.stderr, /is not that artefact/);
    await writeFile(blob(digest), original);

    // The manifest deleted through the API: the signature tag alone must not verify.
    const del = await fetch(`${reg.url}/v2/acme/subject/manifests/${digest}`, { method: 'DELETE' });
    assert.equal(del.status, 202, await del.text());
    const gone = await promote(['verify', `${reg.host}/acme/subject@${digest}`, '--key', 'ci.pub', '--insecure']);
    assertFailedCheck(gone, 'subject', 'SUBJECT_INVALID');
    assert.match(gone.stderr, /does not exist: there is a signature for it, but no artefact/);
    await assertFailedCheckJson(['verify', `${reg.host}/acme/subject@${digest}`, '--key', 'ci.pub', '--insecure'], 'subject', 'SUBJECT_INVALID');
  });

  test('verify with an unsupported public key type exits 4 naming the key-type check', async () => {
    const { publicKey } = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 });
    await writeFile(join(work, 'dsa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    assertFailedCheck(await promote(['verify', `${reg.host}/acme/roundtrip:1.0`, '--key', 'dsa.pub', '--insecure']), 'key-type', 'KEY_UNSUPPORTED');
  });

  test('one verify of a signed tag costs at most 3 registry requests', async () => {
    const r = repo('acme/count');
    const digest = await pushArtefact(r, 'count', '1');
    assert.equal((await promote(['sign', `${reg.host}/acme/count@${digest}`, '--key', 'ci.key', '--insecure'])).code, 0);
    await reg.clearRequests();
    assert.equal((await promote(['verify', `${reg.host}/acme/count:1`, '--key', 'ci.pub', '--insecure'])).code, 0);
    const requests = await reg.requests();
    assert.ok(requests.length <= 3, JSON.stringify(requests));
  });

  test('push --sign signs what it pushed; pull --verify writes files only when the signature verifies', async () => {
    const bundleDir = fileURLToPath(new URL('../fixtures/bundle-small/', import.meta.url));
    const pushed = await promote(['push', bundleDir, `${reg.host}/acme/signed-push:1.0`, '--sign', '--key', 'ci.key', '--insecure', '--output', 'json']);
    assert.equal(pushed.code, 0, pushed.stdout + pushed.stderr);
    const result = JSON.parse(pushed.stdout);
    assert.equal(result.signature.digest, result.digest);
    const ok = await promote(['pull', `${reg.host}/acme/signed-push:1.0`, '--verify', '--key', 'ci.pub', '-o', 'pulled-ok', '--insecure']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /\(verified\)/);
    const bad = await promote(['pull', `${reg.host}/acme/signed-push:1.0`, '--verify', '--key', 'other.pub', '-o', 'pulled-bad', '--insecure']);
    assertFailedCheck(bad, 'signature', 'SIGNATURE_INVALID');
    await assert.rejects(stat(join(work, 'pulled-bad')));
    const unsigned = await promote(['push', bundleDir, `${reg.host}/acme/unsigned-push:1.0`, '--insecure']);
    assert.equal(unsigned.code, 0, unsigned.stderr);
    assertFailedCheck(await promote(['pull', `${reg.host}/acme/unsigned-push:1.0`, '--verify', '--key', 'ci.pub', '-o', 'pulled-unsigned', '--insecure']), 'signature-present', 'SIGNATURE_MISSING');
  });

  test('real cosign output (containers/image fixtures, key and keyless) pushed as cosign stores it verifies', async () => {
    // The key-rekor image was signed with cosign2.pub; two images share a digest, so each gets
    // its own repository (their .sig tags would collide).
    const keyless = ['--certificate-identity', 'mitr@redhat.com', '--certificate-oidc-issuer', 'https://github.com/login/oauth'];
    const cases: [string, string[], number][] = [
      ['dir-img-cosign-valid', ['--key', `${FIX}containers-image/cosign.pub`], 1],
      ['dir-img-cosign-valid-2', ['--key', `${FIX}containers-image/cosign.pub`], 2],
      ['dir-img-cosign-key-rekor-valid', ['--key', `${FIX}containers-image/cosign2.pub`], 1],
      // Keyless classic: Fulcio certificate + Rekor SET in annotations, checked offline against
      // the public-good trusted root shipped with promote.
      ['dir-img-cosign-fulcio-rekor-valid', keyless, 1],
    ];
    for (const [name, trustArgs, count] of cases) {
      const repository = `cosign/${name}`;
      const r = repo(repository);
      const manifest = await readFile(`${FIX}containers-image/${name}_manifest.json`);
      const parsed = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: { digest: string }[] };
      // The image's own blobs are not part of the fixture; the registry needs them to accept the
      // manifest byte for byte, and verify never reads them: plant placeholders in its storage.
      for (const d of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) await plantBlob(repository, d);
      const pushed = await r.pushManifest(manifest, DOCKER_MANIFEST, 'latest');
      assert.equal(pushed.digest, sha256Digest(manifest));
      const layers = [];
      for (let i = 1; i <= 2; i++) {
        const file = `${FIX}containers-image/${name}_signature-${i}`;
        const raw = await readFile(file).catch(() => undefined);
        if (!raw) continue;
        const json = JSON.parse(raw.subarray(raw.indexOf(0x0a) + 1).toString()) as { mimeType: string; payload: string; annotations: Record<string, string> };
        const payload = Buffer.from(json.payload, 'base64');
        const layer = { mediaType: json.mimeType, size: payload.length, digest: sha256Digest(payload), annotations: json.annotations };
        await r.pushBlob(layer, payload);
        layers.push(layer);
      }
      const config = Buffer.from(JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })), os: '', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} }));
      const configDesc = { mediaType: OCI_IMAGE_CONFIG, size: config.length, digest: sha256Digest(config) };
      await r.pushBlob(configDesc, config);
      await r.pushManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDesc, layers })), OCI_MANIFEST, signatureTag(pushed.digest));
      assert.equal(layers[0]!.mediaType, COSIGN_SIMPLESIGNING);
      const v = await promote(['verify', `${reg.host}/${repository}:latest`, ...trustArgs, '--insecure', '--output', 'json']);
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.equal(JSON.parse(v.stdout).digest, pushed.digest);
      assert.equal(JSON.parse(v.stdout).signatures.length, count);
      if (trustArgs[0] === '--key') {
        assertFailedCheck(await promote(['verify', `${reg.host}/${repository}:latest`, '--key', 'ci.pub', '--insecure']), 'signature', 'SIGNATURE_INVALID');
      } else {
        assert.equal(JSON.parse(v.stdout).signatures[0].identity.subject, 'mitr@redhat.com');
        const other = await promote(['verify', `${reg.host}/${repository}:latest`, '--certificate-identity', 'someone@example.com', '--certificate-oidc-issuer', 'https://github.com/login/oauth', '--insecure']);
        assertFailedCheck(other, 'identity', 'SIGNATURE_IDENTITY_MISMATCH');
      }
    }
  });
});

async function plantBlob(repository: string, digest: string): Promise<void> {
  const hex = digest.slice(7);
  const root = join(reg.storageDir, 'docker', 'registry', 'v2');
  const data = join(root, 'blobs', 'sha256', hex.slice(0, 2), hex);
  await mkdir(data, { recursive: true });
  await writeFile(join(data, 'data'), 'placeholder: the fixture does not carry this blob');
  const link = join(root, 'repositories', repository, '_layers', 'sha256', hex);
  await mkdir(link, { recursive: true });
  await writeFile(join(link, 'link'), digest);
}
