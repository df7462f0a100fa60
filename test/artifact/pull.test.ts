import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isPromoteError } from '../../src/errors.ts';
import { canonicalJsonBytes } from '../../src/oci/canonical-json.ts';
import { sha256Digest } from '../../src/oci/digest.ts';
import { LayoutRegistry } from '../../src/oci/layout-registry.ts';
import { BUNDLE_ARTIFACT, BUNDLE_CONFIG, BUNDLE_CONTENT, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import { pullBundle } from '../../src/artifact/pull.ts';
import { pushBundle } from '../../src/artifact/push.ts';
import { cleanEnv, copyFixture, craftTarGz, kubePrometheusBundle, snapshot, tempDir, type CraftedEntry } from '../bundle/helpers.ts';

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.includes('promote-pull'));
}

test('kube-prometheus (95 files, 5.6 MB) round-trips byte-identical through an OCI layout', async () => {
  await using tmp = await tempDir();
  const bundle = await kubePrometheusBundle(tmp.path);
  const pushed = await pushBundle(bundle, `oci:${join(tmp.path, 'layout')}:v1`, { env: cleanEnv() });
  assert.equal(pushed.files, 97);
  const out = join(tmp.path, 'pulled');
  const pulled = await pullBundle(`oci:${join(tmp.path, 'layout')}:v1`, { out });
  assert.equal(pulled.digest, pushed.digest);
  assert.equal(pulled.files, 97);
  const [a, b] = [await snapshot(bundle), await snapshot(out)];
  assert.equal(a.size, 97);
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [path, [mode, bytes]] of a) {
    assert.equal(b.get(path)?.[0], mode, path);
    assert.ok(b.get(path)?.[1].equals(bytes), `${path} differs`);
  }
});

test('pull defaults to ./<bundle name>, refuses a non-empty output directory, fills an empty one', async () => {
  await using tmp = await tempDir();
  const bundle = await copyFixture(tmp.path);
  const ref = `oci:${join(tmp.path, 'layout')}:dev`;
  await pushBundle(bundle, ref, { env: cleanEnv() });
  const work = join(tmp.path, 'work');
  await mkdir(work);
  const first = await pullBundle(ref, { cwd: work });
  assert.equal(first.out, join(work, 'hello'));
  assert.equal(existsSync(join(work, 'hello', 'bundle.yaml')), true);
  await assert.rejects(pullBundle(ref, { cwd: work }), (err) => isPromoteError(err, 'OUTPUT_EXISTS') && err.outcome === 'usage');
  await mkdir(join(work, 'empty'));
  await pullBundle(ref, { cwd: work, out: 'empty' });
  assert.equal(existsSync(join(work, 'empty', 'bundle.yaml')), true);
  assert.deepEqual(await leftovers(work), []);
});

test('a content blob altered in the layout: pull fails with a digest mismatch and leaves nothing', async () => {
  await using tmp = await tempDir();
  const bundle = await copyFixture(tmp.path);
  const layoutDir = join(tmp.path, 'layout');
  const pushed = await pushBundle(bundle, `oci:${layoutDir}:dev`, { env: cleanEnv() });
  const blob = join(layoutDir, 'blobs', 'sha256', pushed.layer.digest.slice(7));
  const original = await readFile(blob);
  const out = join(tmp.path, 'out');
  // (1) Still a valid gzip (its MTIME header field changed), so every file extracts — only the
  // digest can tell, at the very end of the stream, and nothing may be left behind.
  const mtime = Buffer.from(original);
  mtime[4] = 0x2a;
  await writeFile(blob, mtime);
  await assert.rejects(pullBundle(`oci:${layoutDir}:dev`, { out }), (err) => {
    assert.ok(isPromoteError(err, 'BLOB_DIGEST_MISMATCH'), String(err));
    assert.equal(err.exitCode, 4);
    assert.match(err.message, new RegExp(`expected ${pushed.layer.digest}`));
    return true;
  });
  assert.equal(existsSync(out), false);
  assert.deepEqual(await leftovers(tmp.path), []);
  // (2) A damaged deflate stream fails earlier, also as a verification failure.
  const damaged = Buffer.from(original);
  damaged[damaged.length - 20] = damaged[damaged.length - 20]! ^ 0xff;
  await writeFile(blob, damaged);
  await assert.rejects(pullBundle(`oci:${layoutDir}:dev`, { out }), (err) => {
    assert.ok(isPromoteError(err), String(err));
    assert.ok(['BUNDLE_CONTENT_CORRUPT', 'BLOB_DIGEST_MISMATCH', 'TAR_MALFORMED'].includes(err.code), err.code);
    assert.equal(err.exitCode, 4);
    return true;
  });
  assert.equal(existsSync(out), false);
  assert.deepEqual(await leftovers(tmp.path), []);
});

/** Stores a hand-made "bundle" whose content layer is the given (malicious) tar. */
async function craftedBundle(layoutDir: string, entries: CraftedEntry[], artifactType = BUNDLE_ARTIFACT, name = 'evil'): Promise<string> {
  const layout = new LayoutRegistry(layoutDir);
  const layer = craftTarGz(entries);
  const config = canonicalJsonBytes({ name, created: '1970-01-01T00:00:00Z', manifests: 'manifests/', parameterSchema: {} });
  const configDesc = { mediaType: BUNDLE_CONFIG, digest: sha256Digest(config), size: config.length };
  const layerDesc = { mediaType: BUNDLE_CONTENT, digest: sha256Digest(layer), size: layer.length };
  await layout.pushBlob(configDesc, config);
  await layout.pushBlob(layerDesc, layer);
  const manifest = canonicalJsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType, config: configDesc, layers: [layerDesc] });
  return (await layout.pushManifest(manifest, OCI_MANIFEST, 'evil')).digest;
}

test('pull refuses a crafted bundle with "..", an absolute path or a link, and writes nothing', async () => {
  for (const [entries, mention] of [
    [[{ name: 'ok.yaml', content: 'a: 1\n' }, { name: '../../escaped.yaml', content: 'x' }], /climbs out of the bundle/],
    [[{ name: '/tmp/absolute.yaml', content: 'x' }], /absolute path/],
    [[{ name: 'link', type: '2', linkname: '../../../etc/passwd' }], /symbolic link/],
  ] as Array<[CraftedEntry[], RegExp]>) {
    await using tmp = await tempDir();
    await craftedBundle(join(tmp.path, 'layout'), entries);
    const out = join(tmp.path, 'a', 'out');
    await assert.rejects(pullBundle(`oci:${join(tmp.path, 'layout')}:evil`, { out }), (err) => {
      assert.ok(isPromoteError(err, 'BUNDLE_ENTRY_REFUSED'), String(err));
      assert.equal(err.exitCode, 4);
      assert.match(err.message, mention);
      return true;
    });
    assert.equal(existsSync(join(tmp.path, 'a')), false, 'not even the parent directory pull created');
    assert.equal(existsSync(join(tmp.path, 'escaped.yaml')), false);
  }
});

test('an artefact that is not a promote bundle is refused before any content is read', async () => {
  await using tmp = await tempDir();
  await craftedBundle(join(tmp.path, 'layout'), [{ name: 'x', content: '' }], 'application/vnd.example.other');
  // artifactType differs but the config type still says bundle: accepted; make both differ:
  const layout = new LayoutRegistry(join(tmp.path, 'layout'));
  const empty = Buffer.from('{}');
  const d = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(empty), size: 2 };
  await layout.pushBlob(d, empty);
  await layout.pushManifest(canonicalJsonBytes({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.other', config: d, layers: [d] }), OCI_MANIFEST, 'other');
  await assert.rejects(pullBundle(`oci:${join(tmp.path, 'layout')}:other`, { out: join(tmp.path, 'out') }), (err) => {
    assert.ok(isPromoteError(err, 'NOT_A_BUNDLE'), String(err));
    assert.match(err.message, /application\/vnd\.example\.other/);
    return true;
  });
  assert.equal(existsSync(join(tmp.path, 'out')), false);
});

test('a failed pull into a new nested path removes the parent directories it created', async () => {
  await using tmp = await tempDir();
  await craftedBundle(join(tmp.path, 'layout'), [{ name: '../x', content: '' }]);
  await assert.rejects(pullBundle(`oci:${join(tmp.path, 'layout')}:evil`, { out: join(tmp.path, 'new', 'deeper', 'out') }), /climbs out/);
  assert.equal(existsSync(join(tmp.path, 'new')), false);
});

test('a crafted config name cannot steer the default output directory out of the working directory', async () => {
  await using tmp = await tempDir();
  await craftedBundle(join(tmp.path, 'layout'), [{ name: 'ok.yaml', content: 'a: 1\n' }], BUNDLE_ARTIFACT, '../escaped');
  const work = join(tmp.path, 'work');
  await mkdir(work);
  await assert.rejects(pullBundle(`oci:${join(tmp.path, 'layout')}:evil`, { cwd: work }), (err) => {
    assert.ok(isPromoteError(err, 'BUNDLE_CONFIG_INVALID'), String(err));
    assert.match(err.message, /"\.\.\/escaped" is not a DNS label/);
    return true;
  });
  assert.equal(existsSync(join(tmp.path, 'escaped')), false);
});
