import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isPromoteError } from '../../src/errors.ts';
import { OCI_INDEX, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import { sha256Digest } from '../../src/oci/digest.ts';
import type { RegistryOptions } from '../../src/oci/open.ts';
import { startFaultProxy, type Fault, type FaultProxy, type ProxiedRequest } from '../harness/fault-proxy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { blob, makeArtifact, open, pushArtifact } from './http-fixtures.ts';

// A fault-injecting proxy in front of the real registry: the registry's behaviour stays real,
// only the failures on the wire are staged.

/** One real registry behind one fault proxy for the enclosing describe; set `rule` to stage faults (none by default). */
function proxiedRegistry() {
  const fx = {
    reg: undefined as unknown as RegistryServer,
    proxy: undefined as unknown as FaultProxy,
    rule: ((): Fault | undefined => undefined) as (req: ProxiedRequest) => Fault | undefined,
    through: (repository: string, extra: RegistryOptions = {}) => open({ host: fx.proxy.host, url: fx.proxy.url }, repository, extra),
  };
  before(async () => {
    fx.reg = await startRegistry();
    fx.proxy = await startFaultProxy(fx.reg.url, (req) => fx.rule(req));
  });
  after(async () => {
    await fx.proxy.stop();
    await fx.reg.stop();
  });
  return fx;
}

describe('HttpRegistry through a fault-injecting proxy (real registry behind it)', () => {
  const fx = proxiedRegistry();
  const { through } = fx;
  const faultOnce = (match: (r: ProxiedRequest) => boolean, fault: Fault) => {
    let fired = false;
    fx.rule = (r) => {
      if (!fired && match(r)) { fired = true; return fault; }
      return undefined;
    };
  };

  test('a 500 on the upload PUT is followed by asking the session where it stands, and the same session completes', async () => {
    const r = through('faults/put');
    const b = blob('application/octet-stream', randomBytes(50_000));
    faultOnce((q) => q.method === 'PUT' && q.path.includes('digest='), { status: 500 });
    fx.proxy.seen.length = 0;
    assert.deepEqual(await r.pushBlob(b.descriptor, b.bytes), { uploaded: true });
    const calls = fx.proxy.seen.map((s) => `${s.method} ${s.status}`);
    assert.deepEqual(calls, ['HEAD 404', 'POST 202', 'PUT 500', 'GET 204', 'PUT 201']);
    assert.deepEqual(await open(fx.reg, 'faults/put').fetchBlobBytes(b.descriptor), b.bytes);
  });

  test('a connection reset during a chunked upload resumes the session at the offset it reports, which then completes', async () => {
    const r = through('faults/patch', { monolithicMax: 10, chunkSize: 20_000 });
    const b = blob('application/octet-stream', randomBytes(70_000));
    let patches = 0;
    fx.rule = (q) => (q.method === 'PATCH' && ++patches === 2 ? { reset: true } : undefined);
    fx.proxy.seen.length = 0;
    await r.pushBlob(b.descriptor, b.bytes);
    assert.ok(fx.proxy.seen.some((s) => s.method === 'PATCH' && s.status === 0));
    // One session throughout: no second POST, and no chunk sent twice after the reset.
    assert.equal(fx.proxy.seen.filter((s) => s.method === 'POST').length, 1);
    assert.deepEqual(fx.proxy.seen.map((s) => `${s.method} ${s.status}`), ['HEAD 404', 'POST 202', 'PATCH 202', 'PATCH 0', 'GET 204', 'PATCH 202', 'PATCH 202', 'PUT 201']);
    assert.deepEqual(await open(fx.reg, 'faults/patch').fetchBlobBytes(b.descriptor), b.bytes);
  });

  test('429 with Retry-After and a reset on a manifest GET are retried transparently', async () => {
    const a = makeArtifact();
    await pushArtifact(open(fx.reg, 'faults/manifest'), a, 'v1');
    let n = 0;
    fx.rule = (q) => {
      if (q.method !== 'GET' || !q.path.includes('/manifests/')) return undefined;
      n++;
      return n === 1 ? { status: 429, headers: { 'retry-after': '0' } } : n === 2 ? { reset: true } : undefined;
    };
    assert.deepEqual((await through('faults/manifest').fetchManifest('v1')).bytes, a.manifest.bytes);
    assert.equal(n, 3);
  });

  test('a registry that keeps failing with 500 ends in a clear REGISTRY_ERROR after bounded attempts', async () => {
    fx.rule = (q) => (q.method === 'PUT' ? { status: 500 } : undefined);
    const r = through('faults/broken');
    const b = blob('application/octet-stream', randomBytes(1000));
    fx.proxy.seen.length = 0;
    await assert.rejects(r.pushBlob(b.descriptor, b.bytes), (e) => {
      assert.ok(isPromoteError(e, 'REGISTRY_ERROR'));
      assert.match(e.message, /uploading blob sha256:[0-9a-f]{64} \(127\.0\.0\.1:\d+\/faults\/broken\): the registry failed with 500/);
      assert.match(e.message, /gave up after 3 attempts/);
      assert.match(e.hint ?? '', /retry later/);
      return true;
    });
    assert.equal(fx.proxy.seen.filter((s) => s.method === 'PUT').length, 3);
    // One session, asked twice where it stood, then cancelled.
    assert.equal(fx.proxy.seen.filter((s) => s.method === 'POST').length, 1);
    assert.equal(fx.proxy.seen.filter((s) => s.method === 'GET').length, 2);
    assert.equal(fx.proxy.seen.filter((s) => s.method === 'DELETE').length, 1);
    fx.rule = () => undefined;
  });

  test('a registry that lies (blob bytes not matching the digest) is refused and nothing is written', async () => {
    const a = makeArtifact(100_000);
    await pushArtifact(open(fx.reg, 'faults/liar'), a, 'v1');
    fx.rule = (q) => (q.method === 'GET' && q.path.includes('/blobs/') ? { corruptBody: true } : undefined);
    const liar = through('faults/liar');
    const dir = await mkdtemp(join(tmpdir(), 'promote-liar-'));
    try {
      // The consumer pattern pull uses: write to a temporary name, rename only after 'end'.
      const partial = join(dir, 'layer.partial');
      const final = join(dir, 'layer');
      await assert.rejects(
        (async () => { await pipeline(await liar.fetchBlob(a.layer.descriptor), createWriteStream(partial)); await rename(partial, final); })(),
        (e) => isPromoteError(e, 'BLOB_DIGEST_MISMATCH') && e.outcome === 'verification' && e.message.includes(a.layer.descriptor.digest),
      );
      assert.equal(existsSync(final), false);
      await assert.rejects(liar.fetchBlobBytes(a.config.descriptor), (e) => isPromoteError(e, 'BLOB_DIGEST_MISMATCH'));
      // A manifest asked for by digest must hash to that digest.
      fx.rule = (q) => (q.method === 'GET' && q.path.includes('/manifests/') ? { corruptBody: true } : undefined);
      await assert.rejects(liar.fetchManifest(a.manifest.digest), (e) => isPromoteError(e, 'BLOB_DIGEST_MISMATCH') && e.outcome === 'verification');
    } finally {
      fx.rule = () => undefined;
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a connection dropped in the middle of a blob fails the stream with REGISTRY_UNREACHABLE', async () => {
    const a = makeArtifact(200_000);
    await pushArtifact(open(fx.reg, 'faults/cut'), a, 'v1');
    fx.rule = (q) => (q.method === 'GET' && q.path.includes('/blobs/') ? { cutBody: true } : undefined);
    const stream = await through('faults/cut').fetchBlob(a.layer.descriptor);
    let ended = false;
    stream.on('end', () => { ended = true; });
    await assert.rejects(async () => { for await (const _ of stream) { /* drain */ } },
      (e) => isPromoteError(e, 'REGISTRY_UNREACHABLE') && /connection reset|aborted/.test(e.message));
    assert.equal(ended, false);
    fx.rule = () => undefined;
  });

  test('blob GETs follow redirects to another origin', async () => {
    const a = makeArtifact();
    await pushArtifact(open(fx.reg, 'faults/redirect'), a, 'v1');
    // The proxy redirects to the registry's own address: another origin as far as the client knows.
    fx.rule = (q) => (q.method === 'GET' && q.path.includes('/blobs/') ? { status: 307, headers: { location: `${fx.reg.url}${q.path}` } } : undefined);
    await fx.reg.clearRequests();
    assert.deepEqual(await through('faults/redirect').fetchBlobBytes(a.layer.descriptor), a.layer.bytes);
    assert.deepEqual((await fx.reg.requests()).map((e) => `${e.method} ${e.status}`), ['GET 200']);
    fx.rule = () => undefined;
  });

  test('a manifest over 4 MiB served by the registry is refused', async () => {
    const huge = JSON.stringify({ schemaVersion: 2, annotations: { x: 'y'.repeat(5 * 1024 * 1024) } });
    fx.rule = (q) => (q.method === 'GET' && q.path.includes('/manifests/') ? { status: 200, body: huge, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } } : undefined);
    await assert.rejects(through('faults/huge').fetchManifest('v1'), (e) => isPromoteError(e, 'MANIFEST_TOO_LARGE') && e.outcome === 'verification');
    fx.rule = () => undefined;
  });
});

describe('registry features distribution 2.8 lacks, staged by a proxy in front of the real registry', () => {
  const fx = proxiedRegistry();
  const { through } = fx;

  test('where the referrers API answers, its list is used (and filtered by artifactType client-side)', async () => {
    const subject = `sha256:${'1'.repeat(64)}`;
    const entries = [
      { mediaType: OCI_MANIFEST, digest: `sha256:${'a'.repeat(64)}`, size: 10, artifactType: 'application/vnd.example.sig.v1' },
      { mediaType: OCI_MANIFEST, digest: `sha256:${'b'.repeat(64)}`, size: 11, artifactType: 'application/vnd.example.record.v1' },
    ];
    fx.rule = (q) => (q.path.startsWith('/v2/features/api/referrers/')
      ? { status: 200, body: JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }), headers: { 'content-type': OCI_INDEX } }
      : undefined);
    const r = through('features/api');
    fx.proxy.seen.length = 0;
    assert.deepEqual(await r.referrers(subject), entries);
    assert.deepEqual(await r.referrers(subject, 'application/vnd.example.sig.v1'), [entries[0]]);
    // No tag-schema lookups were needed.
    assert.ok(fx.proxy.seen.every((s) => s.path.includes('/referrers/')));
    fx.rule = () => undefined;
  });

  test('a registry that answers OCI-Subject indexes the referrer itself: no fallback tag is written', async () => {
    const r = through('features/subject');
    const a = makeArtifact();
    const pushed = await pushArtifact(r, a, 'v1');
    const referrer = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sig.v1',
      config: a.config.descriptor, layers: [a.layer.descriptor], subject: pushed,
    }));
    fx.rule = (q) => (q.method === 'PUT' && q.path.includes('/manifests/') ? { addHeaders: { 'oci-subject': pushed.digest } } : undefined);
    await r.pushManifest(referrer, OCI_MANIFEST);
    fx.rule = () => undefined;
    assert.deepEqual((await r.listTags()).sort(), ['v1']);
    assert.ok(await r.resolve(sha256Digest(referrer)));
  });

  test('a referrers index the registry answers MANIFEST_BLOB_UNKNOWN for (a race between writers) is read again and written; a lasting one is the error', async () => {
    const r = through('features/index-race');
    const a = makeArtifact();
    const pushed = await pushArtifact(r, a, 'v1');
    const referrer = (n: number) => Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.sig.v1',
      config: a.config.descriptor, layers: [a.layer.descriptor], subject: pushed, annotations: { n: String(n) },
    }));
    const unknown = { status: 400, body: JSON.stringify({ errors: [{ code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry' }] }), headers: { 'content-type': 'application/json' } };
    const indexPut = (q: ProxiedRequest) => q.method === 'PUT' && q.path.endsWith(`/manifests/sha256-${pushed.digest.slice(7)}`);
    let refused = 0;
    fx.rule = (q) => (indexPut(q) && refused++ === 0 ? unknown : undefined);
    await r.pushManifest(referrer(1), OCI_MANIFEST);
    assert.equal(refused, 2, 'the index was written again after the refusal');
    assert.deepEqual((await open(fx.reg, 'features/index-race').referrers(pushed.digest)).map((d) => d.digest), [sha256Digest(referrer(1))]);

    fx.rule = (q) => (indexPut(q) ? unknown : undefined);
    await assert.rejects(r.pushManifest(referrer(2), OCI_MANIFEST), (err: unknown) => isPromoteError(err, 'BLOB_NOT_FOUND'));
    fx.rule = () => undefined;
  });

  test('tag listing follows Link rel="next" pagination', async () => {
    const r = through('features/pages');
    const a = makeArtifact();
    await pushArtifact(r, a, 'a');
    await r.pushManifest(a.manifest.bytes, a.manifest.mediaType, 'b');
    fx.rule = (q) => (q.path === '/v2/features/pages/tags/list'
      ? { status: 200, body: JSON.stringify({ name: 'features/pages', tags: ['first-page'] }), headers: { 'content-type': 'application/json', link: '</v2/features/pages/tags/list?last=first-page&n=1>; rel="next"' } }
      : undefined);
    assert.deepEqual((await r.listTags()).sort(), ['a', 'b', 'first-page']);
    fx.rule = () => undefined;
  });
});

describe('token auth through a fault-injecting proxy (real registry and token server)', () => {
  test('a token the registry stops accepting is replaced once and the request repeated', async (t) => {
    const reg = await startRegistry({ auth: 'token' });
    let reject401 = false;
    const proxy = await startFaultProxy(reg.url, (q) => {
      if (reject401 && q.method === 'HEAD') {
        reject401 = false;
        return { status: 401, headers: { 'www-authenticate': `Bearer realm="${reg.tokenUrl}",service="test-registry",error="invalid_token"` } };
      }
      return undefined;
    });
    t.after(async () => { await proxy.stop(); await reg.stop(); });
    const r = open({ host: proxy.host, url: proxy.url }, 'faults/token', { username: reg.username!, password: reg.password! });
    const a = makeArtifact();
    await pushArtifact(r, a, 'v1');
    reject401 = true;
    proxy.seen.length = 0;
    assert.ok(await r.statBlob(a.layer.descriptor.digest));
    assert.deepEqual(proxy.seen.map((s) => `${s.method} ${s.status}`), ['HEAD 401', 'HEAD 200']);
  });

  test('a streamed PATCH answered 401 is sent again from a re-opened stream, without duplicating data', async (t) => {
    const reg = await startRegistry({ auth: 'token' });
    let reject401 = false;
    const proxy = await startFaultProxy(reg.url, (q) => {
      if (reject401 && q.method === 'PATCH') {
        reject401 = false;
        return { status: 401, headers: { 'www-authenticate': `Bearer realm="${reg.tokenUrl}",service="test-registry",error="invalid_token"` } };
      }
      return undefined;
    });
    t.after(async () => { await proxy.stop(); await reg.stop(); });
    const r = open({ host: proxy.host, url: proxy.url }, 'faults/patch401', { username: reg.username!, password: reg.password!, monolithicMax: 1000 });
    const b = blob('application/octet-stream', randomBytes(300_000));
    reject401 = true;
    let opened = 0;
    await r.pushBlob(b.descriptor, () => { opened++; return Readable.from([b.bytes.subarray(0, 100_000), b.bytes.subarray(100_000)]); });
    assert.equal(opened, 2);
    assert.deepEqual(proxy.seen.filter((s) => s.method === 'PATCH').map((s) => s.status), [401, 202]);
    assert.deepEqual(await r.fetchBlobBytes(b.descriptor, 1 << 20), b.bytes);
  });
});

describe('redirects with basic auth through a fault-injecting proxy (real registry)', () => {
  test('credentials are not forwarded to the origin a blob GET is redirected to', async (t) => {
    const reg = await startRegistry({ auth: 'basic' });
    const proxy = await startFaultProxy(reg.url, (q) => (q.method === 'GET' && q.path.includes('/blobs/') ? { status: 307, headers: { location: `${reg.url}${q.path}` } } : undefined));
    t.after(async () => { await proxy.stop(); await reg.stop(); });
    const creds = { username: reg.username!, password: reg.password! };
    const a = makeArtifact();
    await pushArtifact(open(reg, 'faults/redirect-auth', creds), a, 'v1');
    await reg.clearRequests();
    // The registry behind the redirect needs credentials, and does not get them: 401.
    await assert.rejects(open({ host: proxy.host, url: proxy.url }, 'faults/redirect-auth', creds).fetchBlobBytes(a.layer.descriptor),
      (e) => isPromoteError(e, 'REGISTRY_ERROR') && /answered 401/.test(e.message));
    assert.deepEqual((await reg.requests()).filter((e) => e.path.includes('/blobs/')).map((e) => `${e.method} ${e.status}`), ['GET 401']);
  });
});
