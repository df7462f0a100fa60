import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { CONFIG_TYPE, makeArtifact, open, pushArtifact } from './http-fixtures.ts';

// Interoperability: what promote pushes is read by a peer implementation (skopeo 1.9, Debian),
// and what skopeo pushes is read by promote — same bytes, same digests.

const run = promisify(execFile);

describe('skopeo reads what HttpRegistry pushed', () => {
  let reg: RegistryServer;
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    reg = await startRegistry({ tls: true, auth: 'basic' });
    tmp = await mkdtemp(join(tmpdir(), 'promote-skopeo-'));
    // A private blob-info cache and policy location so skopeo neither reads nor writes the user's.
    env = { ...process.env, XDG_DATA_HOME: join(tmp, 'data'), XDG_CONFIG_HOME: join(tmp, 'config'), _CONTAINERS_ROOTLESS_UID: '65534' };
  });
  after(async () => {
    await reg.stop();
    await rm(tmp, { recursive: true, force: true });
  });
  const creds = () => `${reg.username}:${reg.password}`;

  test('skopeo inspect --raw returns our manifest byte for byte; skopeo copy to an OCI layout keeps every digest', async () => {
    const creds0 = { username: reg.username!, password: reg.password! };
    const a = makeArtifact(32 * 1024);
    await pushArtifact(open(reg, 'interop/artefact', creds0), a, '1.0');
    const src = `docker://${reg.host}/interop/artefact:1.0`;
    const raw = await run('skopeo', ['inspect', '--raw', '--cert-dir', reg.certDir!, '--creds', creds(), src], { env, encoding: 'buffer' });
    assert.deepEqual(raw.stdout, a.manifest.bytes);
    const parsed = JSON.parse(raw.stdout.toString('utf8')) as { config: { mediaType: string } };
    assert.equal(parsed.config.mediaType, CONFIG_TYPE);

    const layout = join(tmp, 'layout');
    await run('skopeo', ['copy', '--src-cert-dir', reg.certDir!, '--src-creds', creds(), src, `oci:${layout}:1.0`], { env });
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    assert.equal(index.manifests[0]?.digest, a.manifest.digest);
    assert.deepEqual(await readFile(join(layout, 'blobs', 'sha256', a.layer.descriptor.digest.slice(7))), a.layer.bytes);
    assert.deepEqual(await readFile(join(layout, 'blobs', 'sha256', a.config.descriptor.digest.slice(7))), a.config.bytes);

    // And back: skopeo pushes the layout to a new repository; promote reads identical bytes.
    await run('skopeo', ['copy', '--dest-cert-dir', reg.certDir!, '--dest-creds', creds(), `oci:${layout}:1.0`, `docker://${reg.host}/interop/by-skopeo:1.0`], { env });
    const back = open(reg, 'interop/by-skopeo', creds0);
    const fetched = await back.fetchManifest('1.0');
    assert.equal(fetched.descriptor.digest, a.manifest.digest);
    assert.deepEqual(await back.fetchBlobBytes(a.layer.descriptor, 1 << 20), a.layer.bytes);
  });

  test('skopeo reads from a plain-HTTP registry with --src-tls-verify=false', async (t) => {
    const plain = await startRegistry();
    t.after(() => plain.stop());
    const a = makeArtifact();
    await pushArtifact(open(plain, 'interop/plain'), a, 'v1');
    const raw = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${plain.host}/interop/plain:v1`], { env, encoding: 'buffer' });
    assert.deepEqual(raw.stdout, a.manifest.bytes);
    const layout = join(tmp, 'plain-layout');
    await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${plain.host}/interop/plain:v1`, `oci:${layout}:v1`], { env });
    assert.deepEqual(await readFile(join(layout, 'blobs', 'sha256', a.manifest.digest.slice(7))), a.manifest.bytes);
  });
});
