import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { copy } from '../../src/oci/copy.ts';
import { LayoutRegistry } from '../../src/oci/layout-registry.ts';
import { OCI_MANIFEST } from '../../src/oci/media-types.ts';
import { pushBundle } from '../../src/artifact/push.ts';
import type { Descriptor } from '../../src/oci/registry.ts';
import { attach } from './helpers.ts';
import { cleanEnv, copyFixture, tempDir } from '../bundle/helpers.ts';

test('copy layout → layout keeps the digest and carries referrers (recursively) and the cosign signature tag', async () => {
  await using tmp = await tempDir();
  const bundle = await copyFixture(tmp.path);
  const srcPath = join(tmp.path, 'src');
  const pushed = await pushBundle(bundle, `oci:${srcPath}:1.0`, { env: cleanEnv() });
  const src = new LayoutRegistry(srcPath);
  const subject: Descriptor = { mediaType: OCI_MANIFEST, digest: pushed.digest, size: pushed.size };
  const record = await attach(src, subject, 'application/vnd.promote.promotion.v1+json', 'promotion-dev');
  const recordSig = await attach(src, { mediaType: OCI_MANIFEST, digest: record.digest, size: record.size }, 'application/vnd.dev.sigstore.bundle.v0.3+json');
  const sigTag = `sha256-${pushed.digest.slice(7)}.sig`;
  const sig = await attach(src, { ...subject }, 'application/vnd.dev.cosign.simplesigning.v1+json', sigTag, 'cosign');

  const dstPath = join(tmp.path, 'dst');
  const result = await copy(`oci:${srcPath}:1.0`, `oci:${dstPath}`);
  assert.equal(result.digest, pushed.digest);
  assert.equal(result.tag, '1.0', 'the source tag is kept');
  assert.equal(result.reference, `oci:${dstPath}@${pushed.digest}`);
  const dst = new LayoutRegistry(dstPath);
  assert.equal((await dst.resolve('1.0'))?.digest, pushed.digest);
  assert.equal((await dst.resolve(sigTag))?.digest, sig.digest, 'cosign signature tag copied');
  const referrers = (await dst.referrers(pushed.digest)).map((d) => d.digest).sort();
  assert.deepEqual(referrers, [record.digest, sig.digest].sort());
  assert.deepEqual((await dst.referrers(record.digest)).map((d) => d.digest), [recordSig.digest], 'referrers of referrers too');
  assert.equal(await dst.resolve('promotion-dev'), undefined, "stage tags are the source's business, not copied");
  // Byte-identical manifests and blobs.
  assert.deepEqual((await dst.fetchManifest(pushed.digest)).bytes, (await src.fetchManifest(pushed.digest)).bytes);
  assert.equal(result.blobsUploaded, 3, 'config, layer and the empty blob');

  // Copying again sends no blob and writes no manifest.
  const again = await copy(`oci:${srcPath}:1.0`, `oci:${dstPath}`);
  assert.equal(again.blobsUploaded, 0);
  assert.equal(again.manifests, 0);
});

test('copy to a named tag, and refusal of a target digest that differs from the source', async () => {
  await using tmp = await tempDir();
  const bundle = await copyFixture(tmp.path);
  const srcPath = join(tmp.path, 'src');
  const pushed = await pushBundle(bundle, `oci:${srcPath}:1.0`, { env: cleanEnv() });
  const r = await copy(`oci:${srcPath}@${pushed.digest}`, `oci:${join(tmp.path, 'dst')}:prod`);
  assert.equal(r.tag, 'prod');
  assert.deepEqual(await new LayoutRegistry(join(tmp.path, 'dst')).listTags(), ['prod']);
  await assert.rejects(copy(`oci:${srcPath}:1.0`, `oci:${join(tmp.path, 'dst')}@sha256:${'0'.repeat(64)}`), /the target names digest sha256:0{64}, but the source is/);
  await assert.rejects(copy(`oci:${srcPath}:nope`, `oci:${join(tmp.path, 'dst')}`), /does not exist/);
});
