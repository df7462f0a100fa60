import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError, PromoteError } from '../../src/errors.ts';
import { decryptCosignKey, parsePem } from '../../src/signing/cosign-key-file.ts';
import { generateKeyFiles } from '../../src/signing/keygen.ts';
import { parseVerificationKey, readSigningKey, readVerificationKey } from '../../src/signing/keys.ts';
import { loadSigner } from '../../src/signing/signer.ts';

const FIX = new URL('../fixtures/cosign-interop/', import.meta.url).pathname;
const env = (password: string) => ({ env: { PROMOTE_PASSWORD: password }, interactive: false });

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'promote-keys-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function assertSigns(keyPath: string, password: string): Promise<void> {
  const signer = await loadSigner(keyPath, env(password));
  const data = Buffer.from('payload');
  const sig = await signer.sign(data);
  assert.ok(verify('sha256', data, { key: createPublicKey(signer.publicKeyPem), dsaEncoding: 'der' }, sig));
}

test('cosign-generated keys (ENCRYPTED SIGSTORE and older ENCRYPTED COSIGN labels) decrypt and sign', async () => {
  await assertSigns(`${FIX}sigstore-rs/cosign_generated_encrypted_empty_private.key`, '');
  await assertSigns(`${FIX}sigstore-rs/ecdsa_encrypted_private.key`, '123');
});

test('a cosign key with the wrong password fails with KEY_PASSWORD_WRONG, exit 1, and no key material', async () => {
  await assert.rejects(loadSigner(`${FIX}sigstore-rs/ecdsa_encrypted_private.key`, env('1234')), (err: unknown) => {
    assert.ok(isPromoteError(err, 'KEY_PASSWORD_WRONG'));
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /wrong password/);
    assert.doesNotMatch(JSON.stringify({ m: err.message, h: err.hint, d: err.details }), /ciphertext|BEGIN/);
    return true;
  });
});

test('conforma and cosign CI key files parse as cosign format; their passwords are not the empty string', async () => {
  // Upstream tests never decrypt these (conforma substitutes a test signer; cosign's CI key
  // password is a secret), so the only honest check is: format read, password refused cleanly.
  for (const f of ['conforma/cosign-empty-pw.key', 'cosign-test.key']) {
    const block = parsePem(await readFile(`${FIX}${f}`, 'utf8'));
    assert.ok(block);
    await assert.rejects(decryptCosignKey(block.der, '', f), (err: unknown) => isPromoteError(err, 'KEY_PASSWORD_WRONG'));
  }
  const pub = await readVerificationKey(`${FIX}cosign-test.pub`);
  assert.equal(pub.algorithm, 'ecdsa-p256');
});

test('keygen writes a 0600 cosign-format key that decrypts with its password only, and a PEM public key', async (t) => {
  const dir = await tempDir(t);
  const name = join(dir, 'ci');
  const r = await generateKeyFiles(name, { password: 's3cret' });
  assert.equal((await stat(r.privateKey)).mode & 0o777, 0o600);
  const text = await readFile(r.privateKey, 'utf8');
  assert.match(text, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
  const body = JSON.parse(parsePem(text)!.der.toString());
  assert.deepEqual(Object.keys(body), ['kdf', 'cipher', 'ciphertext']);
  assert.deepEqual(body.kdf.params, { N: 65536, r: 8, p: 1 });
  assert.equal(body.cipher.name, 'nacl/secretbox');
  const pub = await readVerificationKey(r.publicKey);
  assert.equal(pub.hint, r.hint);
  const signer = await loadSigner(r.privateKey, env('s3cret'));
  assert.equal(signer.publicKeyPem, pub.pem);
  await assert.rejects(loadSigner(r.privateKey, env('s3cret ')), (err: unknown) => isPromoteError(err, 'KEY_PASSWORD_WRONG'));
  await assert.rejects(loadSigner(r.privateKey, env('')), (err: unknown) => isPromoteError(err, 'KEY_PASSWORD_WRONG'));
});

test('keygen refuses to overwrite an existing key unless forced (before asking for a password), and force keeps 0600', async (t) => {
  const dir = await tempDir(t);
  const name = join(dir, 'ci');
  const first = await generateKeyFiles(name, { password: '' });
  await assert.rejects(generateKeyFiles(name, { password: '' }), (err: unknown) => isPromoteError(err, 'KEY_EXISTS'));
  let asked = false;
  const ask = async () => ((asked = true), 'never used');
  await assert.rejects(generateKeyFiles(name, { password: ask }), (err: unknown) => isPromoteError(err, 'KEY_EXISTS'));
  assert.equal(asked, false, 'no password is asked for a pair that will not be written');
  assert.equal((await readVerificationKey(first.publicKey)).hint, first.hint);
  const second = await generateKeyFiles(name, { password: '', force: true });
  assert.notEqual(second.hint, first.hint);
  assert.equal((await stat(second.privateKey)).mode & 0o777, 0o600);
});

test('a plain PKCS#8 PEM private key signs without a password', async (t) => {
  const dir = await tempDir(t);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const path = join(dir, 'plain.key');
  await writeFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await assertSigns(path, 'ignored');
  await assert.doesNotReject(readSigningKey(path, async () => assert.fail('no password needed')));
});

test('signing refuses RSA and Ed25519 private keys with KEY_UNSUPPORTED', async (t) => {
  const dir = await tempDir(t);
  for (const [type, opts] of [['rsa', { modulusLength: 2048 }], ['ed25519', {}]] as const) {
    const { privateKey } = generateKeyPairSync(type as 'rsa', opts as { modulusLength: number });
    const path = join(dir, `${type}.key`);
    await writeFile(path, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await assert.rejects(readSigningKey(path, async () => ''), (err: unknown) => {
      assert.ok(isPromoteError(err, 'KEY_UNSUPPORTED'));
      assert.match(err.message, /ECDSA P-256/);
      return true;
    });
  }
});

test('verification keys: ECDSA, RSA and Ed25519 are accepted; DSA, X25519 and short RSA fail the key-type check (exit 4)', () => {
  for (const [type, opts] of [['ec', { namedCurve: 'P-384' }], ['rsa', { modulusLength: 2048 }], ['ed25519', {}]] as const) {
    const { publicKey } = generateKeyPairSync(type as 'ec', opts as { namedCurve: string });
    assert.ok(parseVerificationKey(publicKey.export({ type: 'spki', format: 'pem' }).toString()).hint);
  }
  for (const [type, opts] of [['dsa', { modulusLength: 2048, divisorLength: 256 }], ['x25519', {}], ['rsa', { modulusLength: 1024 }], ['ec', { namedCurve: 'secp256k1' }]] as const) {
    const { publicKey } = generateKeyPairSync(type as 'ec', opts as unknown as { namedCurve: string });
    assert.throws(() => parseVerificationKey(publicKey.export({ type: 'spki', format: 'pem' }).toString(), `${type}.pub`), (err: unknown) => {
      assert.ok(err instanceof PromoteError);
      assert.equal(err.code, 'KEY_UNSUPPORTED');
      assert.equal(err.exitCode, 4);
      assert.equal(err.details?.check, 'key-type');
      return true;
    });
  }
});

test('a PEM public key that is not a valid point (the conformance wrong-key) fails the key-type check', async () => {
  await assert.rejects(readVerificationKey(`${FIX}conformance/managed-key-wrong-key_fail/key.pub`), (err: unknown) => {
    assert.ok(err instanceof PromoteError);
    assert.equal(err.exitCode, 4);
    assert.equal(err.details?.check, 'key-type');
    return true;
  });
});

test('an encrypted PKCS#8 PEM key (openssl style) signs with its password and names a wrong one', async (t) => {
  const dir = await tempDir(t);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const path = join(dir, 'enc.key');
  await writeFile(path, privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pp' }));
  await assertSigns(path, 'pp');
  await assert.rejects(loadSigner(path, env('nope')), (err: unknown) => isPromoteError(err, 'KEY_PASSWORD_WRONG'));
});
