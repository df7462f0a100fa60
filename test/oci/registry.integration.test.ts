import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isPromoteError } from '../../src/errors.ts';
import { copy } from '../../src/oci/copy.ts';
import { HttpRegistry } from '../../src/oci/http-registry.ts';
import { LayoutRegistry } from '../../src/oci/layout-registry.ts';
import { OCI_MANIFEST } from '../../src/oci/media-types.ts';
import type { RegistryOptions } from '../../src/oci/open.ts';
import { pullBundle } from '../../src/artifact/pull.ts';
import { pushBundle } from '../../src/artifact/push.ts';
import { parseReference, type RegistryReference } from '../../src/oci/reference.ts';
import { startRegistry, type RegistryServer, type StartRegistryOptions } from '../harness/registry.ts';
import { cleanEnv, copyFixture, kubePrometheusBundle, snapshot, tempDir } from '../bundle/helpers.ts';
import { attach } from './helpers.ts';

// Bundles against a real registry (distribution 2.8 via the harness): push → pull byte-identical
// in every auth mode and over TLS, the no-op re-push request budget, interoperability with
// skopeo, copy with mounts and referrers, and a registry that serves altered bytes.

function optionsFor(reg: RegistryServer): RegistryOptions {
  return {
    env: cleanEnv(),
    ...(reg.caFile ? { caFile: reg.caFile } : { insecure: true }),
    ...(reg.username !== undefined && { username: reg.username, password: reg.password! }),
  };
}

async function assertSameTree(a: string, b: string): Promise<void> {
  const [x, y] = [await snapshot(a), await snapshot(b)];
  assert.deepEqual([...y.keys()], [...x.keys()]);
  for (const [path, [mode, bytes]] of x) {
    assert.equal(y.get(path)?.[0], mode, path);
    assert.ok(y.get(path)?.[1].equals(bytes), `${path} differs`);
  }
}

const modes: Array<[string, StartRegistryOptions]> = [
  ['anonymous', {}],
  ['basic auth', { auth: 'basic' }],
  ['token auth', { auth: 'token' }],
  ['TLS with a private CA and basic auth', { tls: true, auth: 'basic' }],
];

for (const [label, opts] of modes) {
  test(`push → pull round-trips byte-identical (${label})`, async () => {
    const reg = await startRegistry(opts);
    await using tmp = await tempDir();
    try {
      const bundle = await copyFixture(tmp.path);
      const pushed = await pushBundle(bundle, `${reg.host}/acme/hello:1.0`, optionsFor(reg));
      assert.equal(pushed.reference, `${reg.host}/acme/hello@${pushed.digest}`);
      const out = join(tmp.path, 'out');
      const pulled = await pullBundle(`${reg.host}/acme/hello:1.0`, { ...optionsFor(reg), out });
      assert.equal(pulled.digest, pushed.digest);
      await assertSameTree(bundle, out);
    } finally {
      await reg.stop();
    }
  });
}

let reg: RegistryServer;
before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg.stop();
});

test('kube-prometheus round-trips byte-identical through the registry', async () => {
  await using tmp = await tempDir();
  const bundle = await kubePrometheusBundle(tmp.path);
  const pushed = await pushBundle(bundle, `${reg.host}/acme/kube-prometheus:v1`, optionsFor(reg));
  const out = join(tmp.path, 'out');
  await pullBundle(`${reg.host}/acme/kube-prometheus@${pushed.digest}`, { ...optionsFor(reg), out });
  await assertSameTree(bundle, out);
});

test('a no-op re-push sends at most 3 requests and uploads nothing', async () => {
  await using tmp = await tempDir();
  const bundle = await copyFixture(tmp.path);
  const ref = `${reg.host}/acme/noop:1.0`;
  const first = await pushBundle(bundle, ref, optionsFor(reg));
  assert.equal(first.uploaded, 2);
  await reg.clearRequests();
  const again = await pushBundle(bundle, ref, optionsFor(reg));
  assert.equal(again.unchanged, true);
  assert.equal(again.digest, first.digest);
  const requests = await reg.requests();
  assert.ok(requests.length <= 3, JSON.stringify(requests));
  assert.equal(requests.filter((r) => r.method === 'POST' || r.method === 'PUT' || r.method === 'PATCH').length, 0);
  // A new tag for the same content uploads no blob either (HEADs, then the manifest).
  await reg.clearRequests();
  const retag = await pushBundle(bundle, `${reg.host}/acme/noop:1.1`, optionsFor(reg));
  assert.equal(retag.uploaded, 0);
  assert.deepEqual((await reg.requests()).filter((r) => r.method !== 'HEAD' && r.method !== 'GET').map((r) => r.method), ['PUT']);
});

test('skopeo reads what we pushed, and what skopeo copies out we pull with the same digest', async () => {
  await using tmp = await tempDir();
  const bundle = await copyFixture(tmp.path);
  const pushed = await pushBundle(bundle, `${reg.host}/acme/interop:1.0`, optionsFor(reg));
  const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/acme/interop:1.0`]);
  assert.equal(`sha256:${(await import('node:crypto')).createHash('sha256').update(raw).digest('hex')}`, pushed.digest);
  const config = JSON.parse(execFileSync('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${reg.host}/acme/interop:1.0`], { encoding: 'utf8' }));
  assert.equal(config.name, 'hello');
  // skopeo copy registry → layout → another repository: still our bundle, same digest.
  const layout = join(tmp.path, 'skopeo-layout');
  const env = { ...process.env, XDG_DATA_HOME: join(tmp.path, 'xdg'), _CONTAINERS_ROOTLESS_UID: '65534' };
  execFileSync('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/acme/interop:1.0`, `oci:${layout}:1.0`], { env });
  execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${layout}:1.0`, `docker://${reg.host}/acme/interop-copy:1.0`], { env });
  const out = join(tmp.path, 'out');
  const pulled = await pullBundle(`${reg.host}/acme/interop-copy:1.0`, { ...optionsFor(reg), out });
  assert.equal(pulled.digest, pushed.digest);
  await assertSameTree(bundle, out);
});

test('copy within one registry mounts blobs; referrers and signatures travel registry → layout → registry', async () => {
  await using tmp = await tempDir();
  const bundle = await copyFixture(tmp.path);
  const pushed = await pushBundle(bundle, `${reg.host}/acme/src:1.0`, optionsFor(reg));
  const src = new HttpRegistry(parseReference(`${reg.host}/acme/src`) as RegistryReference, optionsFor(reg));
  const subject = { mediaType: OCI_MANIFEST, digest: pushed.digest, size: pushed.size };
  const record = await attach(src, subject, 'application/vnd.promote.promotion.v1+json');
  const sigTag = `sha256-${pushed.digest.slice(7)}.sig`;
  const sig = await attach(src, subject, 'application/vnd.dev.cosign.simplesigning.v1+json', sigTag);

  await reg.clearRequests();
  const mounted = await copy(`${reg.host}/acme/src:1.0`, `${reg.host}/acme/mounted`, optionsFor(reg));
  assert.equal(mounted.blobsUploaded, 0);
  assert.ok(mounted.blobsMounted >= 2, JSON.stringify(mounted));
  assert.ok((await reg.requests()).some((r) => r.method === 'POST' && r.path.includes('mount=')));

  const layout = join(tmp.path, 'export');
  await copy(`${reg.host}/acme/src:1.0`, `oci:${layout}`, optionsFor(reg));
  const exported = new LayoutRegistry(layout);
  assert.deepEqual((await exported.referrers(pushed.digest)).map((d) => d.digest).sort(), [record.digest, sig.digest].sort());
  assert.equal((await exported.resolve(sigTag))?.digest, sig.digest);

  const back = await copy(`oci:${layout}:1.0`, `${reg.host}/acme/imported`, optionsFor(reg));
  assert.equal(back.digest, pushed.digest);
  const imported = new HttpRegistry(parseReference(`${reg.host}/acme/imported`) as RegistryReference, optionsFor(reg));
  assert.deepEqual((await imported.referrers(pushed.digest)).map((d) => d.digest).sort(), [record.digest, sig.digest].sort());
  assert.equal((await imported.resolve(sigTag))?.digest, sig.digest);
});

test('a registry that serves altered content: pull fails on the digest and leaves nothing', async () => {
  await using tmp = await tempDir();
  const bundle = await copyFixture(tmp.path);
  // Content of its own: the registry stores blobs once for all repositories, and the blob
  // altered below must not be one other tests share.
  await writeFile(join(bundle, 'files', 'only-here.txt'), 'the lying registry test\n');
  const pushed = await pushBundle(bundle, `${reg.host}/acme/lying:1.0`, optionsFor(reg));
  const hex = pushed.layer.digest.slice(7);
  const data = join(reg.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
  assert.ok(existsSync(data), data);
  const bytes = await readFile(data);
  bytes[4] = 0x2a; // gzip MTIME: still a valid archive, only the digest differs
  await writeFile(data, bytes);
  const out = join(tmp.path, 'out');
  await assert.rejects(pullBundle(`${reg.host}/acme/lying:1.0`, { ...optionsFor(reg), out }), (err) => {
    assert.ok(isPromoteError(err, 'BLOB_DIGEST_MISMATCH'), String(err));
    assert.equal(err.exitCode, 4);
    return true;
  });
  assert.equal(existsSync(out), false);
  assert.deepEqual((await readdir(tmp.path)).filter((n) => n.includes('promote-pull')), []);
});

test('copy between two registries streams the blobs across and keeps digest, tag and signature', async () => {
  const other = await startRegistry({ auth: 'basic' });
  await using tmp = await tempDir();
  try {
    const bundle = await copyFixture(tmp.path);
    const pushed = await pushBundle(bundle, `${reg.host}/acme/across:1.0`, optionsFor(reg));
    const src = new HttpRegistry(parseReference(`${reg.host}/acme/across`) as RegistryReference, optionsFor(reg));
    const sigTag = `sha256-${pushed.digest.slice(7)}.sig`;
    await attach(src, { mediaType: OCI_MANIFEST, digest: pushed.digest, size: pushed.size }, 'application/vnd.dev.cosign.simplesigning.v1+json', sigTag);
    // One set of options for both sides: the source is anonymous, the target takes the credentials.
    const result = await copy(`${reg.host}/acme/across:1.0`, `${other.host}/mirror/across`, optionsFor(other));
    assert.equal(result.digest, pushed.digest);
    assert.equal(result.blobsMounted, 0);
    assert.equal(result.blobsUploaded, 3);
    const out = join(tmp.path, 'out');
    const pulled = await pullBundle(`${other.host}/mirror/across:1.0`, { ...optionsFor(other), out });
    assert.equal(pulled.digest, pushed.digest);
    const mirror = new HttpRegistry(parseReference(`${other.host}/mirror/across`) as RegistryReference, optionsFor(other));
    assert.ok(await mirror.resolve(sigTag));
  } finally {
    await other.stop();
  }
});
