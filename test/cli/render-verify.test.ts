import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from '../../src/artifact/build.ts';
import { openRegistry } from '../../src/oci/open.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import { generateSigningKeyPair } from '../../src/signing/keys.ts';
import { LocalKeySigner } from '../../src/signing/signer.ts';
import { promote } from './run-promote.ts';

// `promote render <ref> --verify`: the real CLI against a real OCI layout holding a bundle
// signed (cosign format) by one key. Verified → rendered; not verified → exit 4, nothing
// printed on stdout, no output directory.

const fixture = fileURLToPath(new URL('../fixtures/podinfo-bundle/', import.meta.url));
const exists = (p: string) => stat(p).then(() => true, () => false);

test('render --verify renders a bundle signed by the given key and refuses (exit 4, nothing written) one signed by another key or unsigned', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'promote-render-verify-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const src = join(work, 'src');
  await cp(fixture, src, { recursive: true });
  const signed = await build(src, { ociLayout: join(work, 'layout'), tag: 'signed' });
  await writeFile(join(src, 'manifests', 'extra.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n');
  const unsigned = await build(src, { ociLayout: join(work, 'layout'), tag: 'unsigned' });
  assert.notEqual(signed.digest, unsigned.digest);
  const ci = new LocalKeySigner(generateSigningKeyPair().privateKey);
  const stranger = new LocalKeySigner(generateSigningKeyPair().privateKey);
  await writeFile(join(work, 'ci.pub'), ci.publicKeyPem);
  await writeFile(join(work, 'stranger.pub'), stranger.publicKeyPem);
  await signBundle(await openRegistry('oci:layout', { cwd: work }), signed.digest, ci, 'oci:layout');

  const ok = await promote(['render', 'oci:layout:signed', '--env', 'staging', '--root', 'src', '--verify', '--key', 'ci.pub', '-o', 'out-ok'], { cwd: work });
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(await exists(join(work, 'out-ok')));

  const json = await promote(['render', 'oci:layout:signed', '--env', 'staging', '--root', 'src', '--verify', '--key', 'ci.pub', '--output', 'json'], { cwd: work });
  assert.equal(json.code, 0, json.stderr);
  const data = JSON.parse(json.stdout) as { reference: string; verification: { digest: string; signatures: unknown[] } };
  assert.equal(data.verification.digest, signed.digest);
  assert.equal(data.reference, `oci:layout@${signed.digest}`);

  for (const [what, ref, key] of [['another key', 'oci:layout:signed', 'stranger.pub'], ['unsigned', 'oci:layout:unsigned', 'ci.pub']] as const) {
    const out = `out-${key}-${ref.length}`;
    const refused = await promote(['render', ref, '--env', 'staging', '--root', 'src', '--verify', '--key', key, '-o', out], { cwd: work });
    assert.equal(refused.code, 4, `${what}: ${refused.stderr}`);
    assert.equal(refused.stdout, '', what);
    assert.match(refused.stderr, /signature/i, what);
    assert.equal(await exists(join(work, out)), false, what);
    const streamed = await promote(['render', ref, '--env', 'staging', '--root', 'src', '--verify', '--key', key], { cwd: work });
    assert.equal(streamed.code, 4, what);
    assert.equal(streamed.stdout, '', `${what}: no manifests on stdout`);
  }

  const loose = await promote(['render', 'oci:layout:signed', '--env', 'staging', '--root', 'src', '--key', 'ci.pub'], { cwd: work });
  assert.equal(loose.code, 2, 'a --key without --verify is a usage error, not silently ignored');
  const dir = await promote(['render', 'src', '--env', 'staging', '--verify', '--key', 'ci.pub'], { cwd: work });
  assert.equal(dir.code, 2, 'a directory has no signature to verify');
});
