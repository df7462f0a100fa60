import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError } from '../../src/errors.ts';
import { sha256Digest } from '../../src/oci/digest.ts';
import { HttpRegistry } from '../../src/oci/http-registry.ts';
import { OCI_MANIFEST } from '../../src/oci/media-types.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { ARTIFACT_TYPE, blob, clientOptions, makeArtifact, open, pushArtifact, repoRef } from './http-fixtures.ts';

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function roundTrip(r: HttpRegistry, tag: string): Promise<void> {
  const a = makeArtifact(64 * 1024);
  const pushed = await pushArtifact(r, a, tag);
  assert.equal(pushed.digest, a.manifest.digest);
  assert.equal(pushed.artifactType, ARTIFACT_TYPE);
  const fetched = await r.fetchManifest(tag);
  assert.deepEqual(fetched.bytes, a.manifest.bytes);
  assert.equal(fetched.descriptor.digest, a.manifest.digest);
  assert.equal(fetched.descriptor.mediaType, OCI_MANIFEST);
  assert.deepEqual(await readAll(await r.fetchBlob(a.layer.descriptor)), a.layer.bytes);
  assert.deepEqual(await r.fetchBlobBytes(a.config.descriptor), a.config.bytes);
  assert.deepEqual(await r.resolve(a.manifest.digest), { mediaType: OCI_MANIFEST, digest: a.manifest.digest, size: a.manifest.bytes.length });
}

describe('HttpRegistry against a real registry (anonymous, plain HTTP)', () => {
  let reg: RegistryServer;
  before(async () => { reg = await startRegistry(); });
  after(async () => { await reg.stop(); });

  test('pushes and pulls blobs and a manifest by tag and digest, byte for byte', async () => {
    await roundTrip(open(reg, 'acme/anon'), '1.0');
  });

  test('a blob given as a stream factory is uploaded monolithically: POST + PUT', async () => {
    const r = open(reg, 'acme/stream');
    const b = blob('application/octet-stream', randomBytes(200_000));
    await reg.clearRequests();
    assert.deepEqual(await r.pushBlob(b.descriptor, () => Readable.from([b.bytes.subarray(0, 1000), b.bytes.subarray(1000)])), { uploaded: true });
    const methods = (await reg.requests()).map((e) => `${e.method} ${e.status}`);
    assert.deepEqual(methods, ['HEAD 404', 'POST 202', 'PUT 201']);
    assert.deepEqual(await r.fetchBlobBytes(b.descriptor), b.bytes);
  });

  test('a large blob is uploaded in many PATCHes, always following the newest Location', async () => {
    const r = open(reg, 'acme/chunked', { monolithicMax: 1024, chunkSize: 64 * 1024 });
    const b = blob('application/octet-stream', randomBytes(1024 * 1024 + 123));
    await reg.clearRequests();
    await r.pushBlob(b.descriptor, () => Readable.from((function* () {
      for (let i = 0; i < b.bytes.length; i += 10_000) yield b.bytes.subarray(i, i + 10_000);
    })()));
    const log = await reg.requests();
    const patches = log.filter((e) => e.method === 'PATCH');
    assert.equal(patches.length, 16);
    assert.ok(patches.every((p) => p.status === 202));
    assert.deepEqual(log.at(-1), { ...log.at(-1)!, method: 'PUT', status: 201 });
    assert.deepEqual(await readAll(await r.fetchBlob(b.descriptor)), b.bytes);
  });

  test('a large blob without a chunk size is streamed in one PATCH, then an empty PUT', async () => {
    const r = open(reg, 'acme/streamed', { monolithicMax: 1024 });
    const b = blob('application/octet-stream', randomBytes(300_000));
    await reg.clearRequests();
    await r.pushBlob(b.descriptor, b.bytes);
    assert.deepEqual((await reg.requests()).map((e) => `${e.method} ${e.status}`), ['HEAD 404', 'POST 202', 'PATCH 202', 'PUT 201']);
    assert.deepEqual(await r.fetchBlobBytes(b.descriptor), b.bytes);
  });

  test('content that does not match its descriptor is refused before anything is committed', async () => {
    const r = open(reg, 'acme/wrong');
    const b = blob('application/octet-stream', randomBytes(5000));
    const other = randomBytes(5000);
    await assert.rejects(r.pushBlob(b.descriptor, other), (e) => isPromoteError(e, 'BLOB_DIGEST_MISMATCH'));
    await assert.rejects(r.pushBlob(b.descriptor, () => Readable.from([other])), (e) => isPromoteError(e, 'BLOB_DIGEST_MISMATCH'));
    assert.equal(await r.statBlob(b.descriptor.digest), undefined);
  });

  test('cross-repository mount links a blob without uploading it; a missing source falls back', async () => {
    const a = makeArtifact();
    await pushArtifact(open(reg, 'acme/source'), a, 'v1');
    const target = open(reg, 'acme/target');
    await reg.clearRequests();
    assert.equal(await target.mountBlob(a.layer.descriptor, `${reg.host}/acme/source`), true);
    assert.deepEqual((await reg.requests()).map((e) => `${e.method} ${e.status}`), ['POST 201']);
    assert.ok(await target.statBlob(a.layer.descriptor.digest));
    const missing = blob('application/octet-stream', randomBytes(10));
    assert.equal(await target.mountBlob(missing.descriptor, 'acme/source'), false);
    const log = await reg.requests();
    assert.deepEqual(log.slice(-2).map((e) => `${e.method} ${e.status}`), ['POST 202', 'DELETE 204']);
  });

  test('a no-op re-push sends only HEADs for blobs and PUTs nothing', async () => {
    const r = open(reg, 'acme/noop');
    const a = makeArtifact();
    await pushArtifact(r, a, '1.0');
    await reg.clearRequests();
    assert.deepEqual(await r.pushBlob(a.config.descriptor, a.config.bytes), { uploaded: false });
    assert.deepEqual(await r.pushBlob(a.layer.descriptor, a.layer.bytes), { uploaded: false });
    assert.deepEqual(await r.resolve('1.0'), { mediaType: OCI_MANIFEST, digest: a.manifest.digest, size: a.manifest.bytes.length, artifactType: ARTIFACT_TYPE });
    const log = await reg.requests();
    assert.deepEqual(log.map((e) => `${e.method} ${e.status}`), ['HEAD 200', 'HEAD 200', 'GET 200']);
  });

  test('lists tags (and an empty list for a repository never pushed to)', async () => {
    const r = open(reg, 'acme/tags');
    const a = makeArtifact();
    await pushArtifact(r, a, 'one');
    await r.pushManifest(a.manifest.bytes, a.manifest.mediaType, 'two');
    assert.deepEqual((await r.listTags()).sort(), ['one', 'two']);
    assert.deepEqual(await open(reg, 'acme/nothing-here').listTags(), []);
  });

  test('referrers: a manifest with a subject is found through the sha256-<hex> tag-schema index', async () => {
    const r = open(reg, 'acme/referred');
    const subject = makeArtifact();
    const pushed = await pushArtifact(r, subject, 'v1');
    const sig = blob('application/vnd.example.sig.v1+json', Buffer.from('{"sig":1}'));
    await r.pushBlob({ mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest('{}'), size: 2 }, Buffer.from('{}'));
    await r.pushBlob(sig.descriptor, sig.bytes);
    const referrer = (artifactType: string, n: number) => Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest('{}'), size: 2 },
      layers: [sig.descriptor], subject: pushed, annotations: { n: String(n) },
    }));
    const one = await r.pushManifest(referrer('application/vnd.example.sig.v1', 1), OCI_MANIFEST);
    const two = await r.pushManifest(referrer('application/vnd.example.record.v1', 2), OCI_MANIFEST);
    await r.pushManifest(referrer('application/vnd.example.sig.v1', 1), OCI_MANIFEST); // again: deduplicated
    const all = await r.referrers(pushed.digest);
    assert.deepEqual(all.map((d) => d.digest).sort(), [one.digest, two.digest].sort());
    const sigs = await r.referrers(pushed.digest, 'application/vnd.example.sig.v1');
    assert.deepEqual(sigs, [{ mediaType: OCI_MANIFEST, digest: one.digest, size: one.size, artifactType: 'application/vnd.example.sig.v1', annotations: { n: '1' } }]);
    assert.deepEqual(await r.referrers(sha256Digest('nothing refers to this')), []);
    assert.ok((await r.listTags()).includes(`sha256-${pushed.digest.slice(7)}`));
  });

  test('deleteManifest removes a manifest by digest', async () => {
    const r = open(reg, 'acme/delete');
    const a = makeArtifact();
    await pushArtifact(r, a, 'gone');
    await r.deleteManifest(a.manifest.digest);
    assert.equal(await r.resolve(a.manifest.digest), undefined);
    assert.equal(await r.resolve('gone'), undefined);
    await assert.rejects(r.fetchManifest('gone'), (e) => isPromoteError(e, 'MANIFEST_NOT_FOUND') && /gone/.test(e.message));
  });

  test('a missing blob is BLOB_NOT_FOUND naming the digest', async () => {
    const missing = blob('application/octet-stream', randomBytes(8));
    await assert.rejects(open(reg, 'acme/anon').fetchBlob(missing.descriptor), (e) => isPromoteError(e, 'BLOB_NOT_FOUND') && e.message.includes(missing.descriptor.digest));
  });

  test('a manifest over 4 MiB is refused client-side, before any request', async () => {
    const r = open(reg, 'acme/huge');
    const huge = Buffer.from(JSON.stringify({ schemaVersion: 2, annotations: { big: 'x'.repeat(4 * 1024 * 1024) } }));
    await reg.clearRequests();
    await assert.rejects(r.pushManifest(huge, OCI_MANIFEST, 'big'), (e) => isPromoteError(e, 'MANIFEST_TOO_LARGE') && /4 MiB/.test(e.message));
    assert.deepEqual(await reg.requests(), []);
  });

  test('an invalid tag or repository name is refused client-side', async () => {
    const r = open(reg, 'acme/names');
    await reg.clearRequests();
    await assert.rejects(r.pushManifest(Buffer.from('{}'), OCI_MANIFEST, 'bad:tag'), (e) => isPromoteError(e, 'REFERENCE_INVALID'));
    await assert.rejects(r.fetchManifest('-leading-dash'), (e) => isPromoteError(e, 'REFERENCE_INVALID'));
    assert.throws(() => repoRef(reg.host, 'Acme/Upper'), (e) => isPromoteError(e, 'REFERENCE_INVALID') && /upper-case/.test(e.message));
    assert.deepEqual(await reg.requests(), []);
  });
});

describe('HttpRegistry with relative Location headers', () => {
  test('uploads (monolithic and chunked) follow relative Locations', async (t) => {
    const reg = await startRegistry({ relativeUrls: true });
    t.after(() => reg.stop());
    await roundTrip(open(reg, 'acme/relative'), 'v1');
    const r = open(reg, 'acme/relative', { monolithicMax: 10, chunkSize: 40_000 });
    const b = blob('application/octet-stream', randomBytes(100_000));
    await r.pushBlob(b.descriptor, b.bytes);
    assert.deepEqual(await r.fetchBlobBytes(b.descriptor), b.bytes);
  });
});

describe('HttpRegistry with basic auth', () => {
  let reg: RegistryServer;
  before(async () => { reg = await startRegistry({ auth: 'basic' }); });
  after(async () => { await reg.stop(); });

  test('round trip with explicit credentials', async () => {
    await roundTrip(open(reg, 'acme/basic', { username: reg.username!, password: reg.password! }), 'v1');
  });

  test('credentials from PROMOTE_REGISTRY_USERNAME/PASSWORD', async () => {
    await roundTrip(open(reg, 'acme/basic-env', { env: { PROMOTE_REGISTRY_USERNAME: reg.username!, PROMOTE_REGISTRY_PASSWORD: reg.password! } }), 'v1');
  });

  test('credentials from a docker config.json (auths, base64 "auth")', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'promote-dockercfg-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [`http://${reg.host}`]: { auth: Buffer.from(`${reg.username}:${reg.password}`).toString('base64') } } }));
    await roundTrip(open(reg, 'acme/basic-docker', { env: { DOCKER_CONFIG: dir }, dockerConfig: undefined }), 'v1');
  });

  test('wrong credentials: REGISTRY_UNAUTHORIZED naming the source, never the password', async () => {
    const r = open(reg, 'acme/basic', { env: { PROMOTE_REGISTRY_USERNAME: 'promote', PROMOTE_REGISTRY_PASSWORD: 'wrong-secret-1234' } });
    await assert.rejects(r.pushBlob(blob('a/b', Buffer.from('x')).descriptor, Buffer.from('x')), (e) => {
      assert.ok(isPromoteError(e, 'REGISTRY_UNAUTHORIZED'));
      assert.match(e.message, /PROMOTE_REGISTRY_USERNAME/);
      assert.match(e.message, new RegExp(reg.host.replace(/\./g, '\\.')));
      assert.doesNotMatch(`${e.message} ${e.hint} ${JSON.stringify(e.details)}`, /wrong-secret-1234/);
      return true;
    });
  });

  test('no credentials at all: REGISTRY_UNAUTHORIZED listing what was tried', async () => {
    await assert.rejects(open(reg, 'acme/basic').listTags(), (e) => {
      assert.ok(isPromoteError(e, 'REGISTRY_UNAUTHORIZED'));
      assert.match(e.message, /PROMOTE_REGISTRY_USERNAME\/PROMOTE_REGISTRY_PASSWORD \(not set\)/);
      assert.match(e.message, /does not exist/);
      return true;
    });
  });
});

describe('HttpRegistry with token auth', () => {
  let reg: RegistryServer;
  before(async () => { reg = await startRegistry({ auth: 'token', anonPull: true }); });
  after(async () => { await reg.stop(); });

  test('round trip through the bearer token flow; tokens are reused per scope', async () => {
    const r = open(reg, 'acme/token', { username: reg.username!, password: reg.password! });
    await roundTrip(r, 'v1');
    await reg.clearRequests();
    await roundTrip(r, 'v2');
    // With cached tokens nothing is answered 401 any more.
    assert.deepEqual((await reg.requests()).filter((e) => e.status === 401), []);
  });

  test('an identitytoken from docker config.json is exchanged for access tokens (OAuth2 refresh grant)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'promote-dockercfg-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [reg.host]: { identitytoken: reg.refreshToken } } }));
    await roundTrip(open(reg, 'acme/identity', { dockerConfig: join(dir, 'config.json') }), 'v1');
  });

  test('anonymous pull works where the token server grants it', async () => {
    const a = makeArtifact();
    await pushArtifact(open(reg, 'acme/public', { username: reg.username!, password: reg.password! }), a, 'v1');
    const anon = open(reg, 'acme/public');
    assert.deepEqual((await anon.fetchManifest('v1')).bytes, a.manifest.bytes);
  });

  test('a pull-only user pushing gets REGISTRY_DENIED (insufficient scope)', async () => {
    const r = open(reg, 'acme/readonly', { username: reg.readOnly!.username, password: reg.readOnly!.password });
    const b = blob('application/octet-stream', randomBytes(100));
    await assert.rejects(r.pushBlob(b.descriptor, b.bytes), (e) => {
      assert.ok(isPromoteError(e, 'REGISTRY_DENIED'));
      assert.match(e.message, /insufficient scope/);
      assert.match(e.hint ?? '', /push/);
      return true;
    });
  });

  test('wrong password at the token server: REGISTRY_UNAUTHORIZED', async () => {
    const r = open(reg, 'acme/token', { username: reg.username!, password: 'not-the-password' });
    await assert.rejects(r.resolve('v1'), (e) => isPromoteError(e, 'REGISTRY_UNAUTHORIZED') && /token server refused/.test(e.message) && !e.message.includes('not-the-password'));
  });
});

describe('HttpRegistry over TLS', () => {
  test('round trip with the CA given per client; without it the TLS error says what to do', async (t) => {
    const reg = await startRegistry({ tls: true, auth: 'basic' });
    t.after(() => reg.stop());
    await roundTrip(open(reg, 'acme/tls', { username: reg.username!, password: reg.password! }), 'v1');
    const untrusted = new HttpRegistry(repoRef(reg.host, 'acme/tls'), { ...clientOptions(reg), caFile: undefined, insecure: false });
    await assert.rejects(untrusted.listTags(), (e) => isPromoteError(e, 'REGISTRY_TLS') && /--ca-file/.test(e.hint ?? ''));
  });

  test('--insecure skips certificate verification on a TLS registry and falls back to plain HTTP on an HTTP one', async (t) => {
    const tls = await startRegistry({ tls: true });
    const plain = await startRegistry();
    t.after(async () => { await tls.stop(); await plain.stop(); });
    const overTls = new HttpRegistry(repoRef(tls.host, 'acme/insecure'), { ...clientOptions(tls), caFile: undefined, insecure: true });
    await roundTrip(overTls, 'v1');
    const overHttp = new HttpRegistry(repoRef(plain.host, 'acme/insecure'), { ...clientOptions(plain), insecure: true });
    await roundTrip(overHttp, 'v1');
    // The probe is a bare TLS handshake: the registries saw only the requests of the round trips.
    assert.ok((await plain.requests()).every((e) => e.path.startsWith('/v2/acme/insecure/')));
  });
});

describe('HttpRegistry when the registry is unreachable', () => {
  test('a closed port gives REGISTRY_UNREACHABLE naming the address, suggesting --insecure / --ca-file', async () => {
    const reg = await startRegistry();
    const { host } = reg;
    await reg.stop();
    const r = new HttpRegistry(repoRef(host, 'acme/gone'), clientOptions({ url: `https://${host}` }, { insecure: false }));
    await assert.rejects(r.resolve('v1'), (e) => {
      assert.ok(isPromoteError(e, 'REGISTRY_UNREACHABLE'));
      assert.match(e.message, new RegExp(`registry unreachable at https://${host.replace(/\./g, '\\.')}: connection refused`));
      assert.match(e.hint ?? '', /--insecure/);
      assert.match(e.hint ?? '', /--ca-file/);
      return true;
    });
  });
});
