import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isPromoteError } from '../../src/errors.ts';
import { canonicalJsonBytes } from '../../src/oci/canonical-json.ts';
import { sha256Digest } from '../../src/oci/digest.ts';
import { LayoutRegistry } from '../../src/oci/layout-registry.ts';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, OCI_EMPTY, OCI_MANIFEST } from '../../src/oci/media-types.ts';
import type { Descriptor } from '../../src/oci/registry.ts';
import { tempDir } from '../bundle/helpers.ts';

const EMPTY: Descriptor = { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 };

/** A small artefact manifest; `n` makes each one different. */
function artefact(n: number, subject?: Descriptor, artifactType = 'application/vnd.example.thing.v1'): Buffer {
  return canonicalJsonBytes({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: EMPTY,
    layers: [EMPTY],
    annotations: { n: String(n) },
    ...(subject && { subject }),
  });
}

async function store(layout: LayoutRegistry, n: number, tag?: string, subject?: Descriptor): Promise<Descriptor> {
  await layout.pushBlob(EMPTY, EMPTY_JSON);
  return layout.pushManifest(artefact(n, subject), OCI_MANIFEST, tag);
}

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('writes an OCI image layout that umoci and skopeo read: tags as ref.name, blobs by digest', async () => {
  await using tmp = await tempDir();
  const layout = new LayoutRegistry(join(tmp.path, 'layout'));
  const a = await store(layout, 1, 'v1');
  await store(layout, 2, 'v2');
  assert.deepEqual(JSON.parse(await readFile(join(tmp.path, 'layout', 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
  assert.deepEqual(await layout.listTags(), ['v1', 'v2']);
  assert.equal(execFileSync('umoci', ['ls', '--layout', join(tmp.path, 'layout')], { encoding: 'utf8' }).trim().split('\n').sort().join(','), 'v1,v2');
  const raw = execFileSync('skopeo', ['inspect', '--raw', `oci:${join(tmp.path, 'layout')}:v1`]);
  assert.equal(sha256Digest(raw), a.digest, 'skopeo reads our manifest byte for byte');
  assert.deepEqual(await readdir(join(tmp.path, 'layout')), ['blobs', 'index.json', 'oci-layout'], 'no temp or lock files left');
});

test('reads what skopeo writes (skopeo copy of our layout, then resolve and fetch)', async () => {
  await using tmp = await tempDir();
  const src = new LayoutRegistry(join(tmp.path, 'src'));
  const a = await store(src, 1, 'v1');
  execFileSync('skopeo', ['copy', '-q', `oci:${join(tmp.path, 'src')}:v1`, `oci:${join(tmp.path, 'dst')}:copied`]);
  const dst = new LayoutRegistry(join(tmp.path, 'dst'));
  assert.equal((await dst.resolve('copied'))?.digest, a.digest);
  const fetched = await dst.fetchManifest('copied');
  assert.equal(fetched.descriptor.digest, a.digest);
});

test('moving a tag keeps the old manifest reachable by digest; pushing twice changes nothing', async () => {
  await using tmp = await tempDir();
  const layout = new LayoutRegistry(join(tmp.path, 'layout'));
  const one = await store(layout, 1, 'dev');
  const before = await readFile(join(tmp.path, 'layout', 'index.json'));
  await store(layout, 1, 'dev');
  assert.deepEqual(await readFile(join(tmp.path, 'layout', 'index.json')), before);
  const two = await store(layout, 2, 'dev');
  assert.equal((await layout.resolve('dev'))?.digest, two.digest);
  assert.equal((await layout.resolve(one.digest))?.digest, one.digest);
  const index = JSON.parse(await readFile(join(tmp.path, 'layout', 'index.json'), 'utf8'));
  assert.equal(index.manifests.length, 2);
  assert.deepEqual(await layout.listTags(), ['dev']);
});

test('concurrent writers do not lose index.json entries (lock file)', async () => {
  await using tmp = await tempDir();
  const path = join(tmp.path, 'layout');
  const writers = [0, 1, 2, 3].map(() => new LayoutRegistry(path));
  await Promise.all(writers.flatMap((w, i) => Array.from({ length: 8 }, (_, j) => store(w, i * 100 + j, `t${i}-${j}`))));
  assert.equal((await new LayoutRegistry(path).listTags()).length, 32);
  assert.equal((await readdir(path)).includes('index.json.lock'), false);
});

test('a blob altered on disk fails the read with BLOB_DIGEST_MISMATCH (stream and bytes)', async () => {
  await using tmp = await tempDir();
  const layout = new LayoutRegistry(join(tmp.path, 'layout'));
  const content = Buffer.from('the real content\n');
  const d: Descriptor = { mediaType: 'application/octet-stream', digest: sha256Digest(content), size: content.length };
  await layout.pushBlob(d, content);
  assert.deepEqual(await drain(await layout.fetchBlob(d)), content);
  await writeFile(join(tmp.path, 'layout', 'blobs', 'sha256', d.digest.slice(7)), 'the fake content\n');
  await assert.rejects(drain(await layout.fetchBlob(d)), (err) => isPromoteError(err, 'BLOB_DIGEST_MISMATCH') && err.outcome === 'verification');
  await assert.rejects(layout.fetchBlobBytes(d), (err) => isPromoteError(err, 'BLOB_DIGEST_MISMATCH'));
  const m = await store(layout, 7, 'x');
  await writeFile(join(tmp.path, 'layout', 'blobs', 'sha256', m.digest.slice(7)), artefact(8));
  await assert.rejects(layout.fetchManifest('x'), (err) => isPromoteError(err) && /BLOB_(DIGEST|SIZE)_MISMATCH/.test(err.code));
});

test('a blob file longer or shorter than its descriptor fails with BLOB_SIZE_MISMATCH, small or streamed', async () => {
  await using tmp = await tempDir();
  const layout = new LayoutRegistry(join(tmp.path, 'layout'));
  // 17 bytes: read whole; 5 MiB: streamed (blobs over 4 MiB are not read into memory at once).
  for (const content of [Buffer.from('the real content\n'), Buffer.alloc(5 * 1024 * 1024, 0x61)]) {
    const d: Descriptor = { mediaType: 'application/octet-stream', digest: sha256Digest(content), size: content.length };
    await layout.pushBlob(d, content);
    const file = join(tmp.path, 'layout', 'blobs', 'sha256', d.digest.slice(7));
    for (const altered of [Buffer.concat([content, Buffer.from('tail')]), content.subarray(0, content.length - 1)]) {
      await writeFile(file, altered);
      await assert.rejects(drain(await layout.fetchBlob(d)), (err) => isPromoteError(err, 'BLOB_SIZE_MISMATCH'), `${content.length} bytes stored as ${altered.length}`);
    }
    await writeFile(file, Buffer.concat([content, Buffer.from('tail')]));
    if (content.length < 1024) await assert.rejects(layout.fetchBlobBytes(d), (err) => isPromoteError(err, 'BLOB_SIZE_MISMATCH'));
  }
});

test('pushing content that does not match its descriptor stores nothing', async () => {
  await using tmp = await tempDir();
  const layout = new LayoutRegistry(join(tmp.path, 'layout'));
  const d: Descriptor = { mediaType: 'application/octet-stream', digest: sha256Digest('expected'), size: 8 };
  await assert.rejects(layout.pushBlob(d, () => Readable.from([Buffer.from('mismatch')])), (err) => isPromoteError(err, 'BLOB_DIGEST_MISMATCH'));
  assert.equal(await layout.statBlob(d.digest), undefined);
  assert.deepEqual(await readdir(join(tmp.path, 'layout')), ['blobs', 'oci-layout'], 'no temp file left');
});

test('referrers: manifests whose subject is the digest, filterable by artifact type', async () => {
  await using tmp = await tempDir();
  const layout = new LayoutRegistry(join(tmp.path, 'layout'));
  const subject = await store(layout, 1, 'v1');
  await layout.pushManifest(artefact(2, subject, 'application/vnd.promote.promotion.v1+json'), OCI_MANIFEST);
  await layout.pushManifest(artefact(3, subject, 'application/vnd.promote.status.v1+json'), OCI_MANIFEST);
  await store(layout, 4); // unrelated
  const all = await layout.referrers(subject.digest);
  assert.equal(all.length, 2);
  const records = await layout.referrers(subject.digest, 'application/vnd.promote.promotion.v1+json');
  assert.equal(records.length, 1);
  assert.equal(records[0]!.artifactType, 'application/vnd.promote.promotion.v1+json');
  assert.deepEqual(await layout.referrers(sha256Digest('nothing')), []);
});

test('a missing layout or manifest is a clear error, not a crash', async () => {
  await using tmp = await tempDir();
  const layout = new LayoutRegistry(join(tmp.path, 'nope'));
  assert.equal(await layout.resolve('v1'), undefined);
  await assert.rejects(layout.fetchManifest('v1'), (err) => isPromoteError(err, 'LAYOUT_NOT_FOUND') && /has no oci-layout file/.test(err.message));
  await store(layout, 1, 'v1');
  await assert.rejects(layout.fetchManifest('v2'), (err) => isPromoteError(err, 'MANIFEST_NOT_FOUND'));
  await layout.deleteManifest((await layout.resolve('v1'))!.digest);
  assert.deepEqual(await layout.listTags(), []);
});

test('manifests over 4 MiB are refused on write and on read', async () => {
  await using tmp = await tempDir();
  const layout = new LayoutRegistry(join(tmp.path, 'layout'));
  const huge = Buffer.from(JSON.stringify({ schemaVersion: 2, pad: 'x'.repeat(4 * 1024 * 1024) }));
  await assert.rejects(layout.pushManifest(huge, OCI_MANIFEST, 'big'), (err) => isPromoteError(err, 'MANIFEST_TOO_LARGE'));
  // One that got in by other means (a hand-edited index.json) is not read into memory.
  const d = { mediaType: 'application/octet-stream', digest: sha256Digest(huge), size: huge.length };
  await layout.pushBlob(d, huge);
  const indexPath = join(tmp.path, 'layout', 'index.json');
  await writeFile(indexPath, JSON.stringify({ schemaVersion: 2, manifests: [{ ...d, mediaType: OCI_MANIFEST, annotations: { 'org.opencontainers.image.ref.name': 'big' } }] }));
  await assert.rejects(layout.fetchManifest('big'), (err) => isPromoteError(err, 'TOO_LARGE'));
});

test('the index read once is reused only while index.json is the same file: a tag another writer (or a hand edit) adds is seen, and what a reader got cannot be changed under the next', async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const a = new LayoutRegistry(dir);
  const b = new LayoutRegistry(dir);
  const first = await store(a, 1, 'one');
  assert.deepEqual(await a.listTags(), ['one']);
  await store(b, 2, 'two');
  assert.deepEqual(await a.listTags(), ['one', 'two']);
  assert.equal((await a.resolve('two'))?.digest, (await b.resolve('two'))?.digest);
  // A same-size edit in place (no rename): the tag renamed by hand is found under its new name.
  const path = join(dir, 'index.json');
  const text = await readFile(path, 'utf8');
  await writeFile(path, text.replace('"one"', '"uno"'));
  assert.equal((await a.resolve('uno'))?.digest, first.digest);
  assert.equal(await a.resolve('one'), undefined);
  const listed = await a.resolve('uno');
  try {
    (listed as { size: number }).size = 1;
  } catch {
    /* frozen: as good */
  }
  assert.equal((await a.resolve('uno'))?.size, first.size);
});
