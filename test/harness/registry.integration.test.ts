import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { startRegistry } from './registry.ts';

// The harness is itself a dependency of every registry test: prove each mode really starts a
// registry that behaves as configured.

test('harness: anonymous registry answers /v2/ and counts requests; stop() removes its storage', async () => {
  const reg = await startRegistry();
  const r = await fetch(`${reg.url}/v2/`);
  assert.equal(r.status, 200);
  const h = await fetch(`${reg.url}/v2/a/b/blobs/sha256:${'0'.repeat(64)}`, { method: 'HEAD' });
  assert.equal(h.status, 404);
  assert.deepEqual(await reg.requests(), [
    { method: 'GET', path: '/v2/', status: 200 },
    { method: 'HEAD', path: `/v2/a/b/blobs/sha256:${'0'.repeat(64)}`, status: 404 },
  ]);
  await reg.clearRequests();
  assert.deepEqual(await reg.requests(), []);
  await reg.stop();
  assert.equal(existsSync(reg.storageDir), false);
});

test('harness: basic auth registry refuses anonymous and accepts its credentials', async () => {
  const reg = await startRegistry({ auth: 'basic' });
  try {
    assert.equal((await fetch(`${reg.url}/v2/`)).status, 401);
    const auth = `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}`;
    assert.equal((await fetch(`${reg.url}/v2/`, { headers: { authorization: auth } })).status, 200);
  } finally {
    await reg.stop();
  }
});

test('harness: token auth issues scoped tokens; the read-only user gets no push', async () => {
  const reg = await startRegistry({ auth: 'token' });
  try {
    const ping = await fetch(`${reg.url}/v2/`);
    assert.equal(ping.status, 401);
    assert.match(ping.headers.get('www-authenticate') ?? '', /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="test-registry"/);
    const tokenFor = async (u: string, p: string, scope: string) => {
      const r = await fetch(`${reg.tokenUrl}?service=test-registry&scope=${encodeURIComponent(scope)}`, {
        headers: { authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` },
      });
      assert.equal(r.status, 200);
      return ((await r.json()) as { token: string }).token;
    };
    const full = await tokenFor(reg.username!, reg.password!, 'repository:a/b:push,pull');
    const post = await fetch(`${reg.url}/v2/a/b/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${full}` } });
    assert.equal(post.status, 202);
    const ro = await tokenFor(reg.readOnly!.username, reg.readOnly!.password, 'repository:a/b:push,pull');
    const denied = await fetch(`${reg.url}/v2/a/b/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${ro}` } });
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
    const bad = await fetch(`${reg.tokenUrl}?service=test-registry`, { headers: { authorization: `Basic ${Buffer.from('promote:wrong').toString('base64')}` } });
    assert.equal(bad.status, 401);
  } finally {
    await reg.stop();
  }
});

test('harness: TLS registry is trusted with its CA file only', async () => {
  const reg = await startRegistry({ tls: true });
  try {
    assert.match(reg.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const status = await new Promise<number>((resolve, reject) => {
      httpsRequest(`${reg.url}/v2/`, { ca: readFileSync(reg.caFile!) }, (res) => { res.resume(); resolve(res.statusCode!); })
        .on('error', reject).end();
    });
    assert.equal(status, 200);
    await assert.rejects(new Promise((resolve, reject) => {
      httpsRequest(`${reg.url}/v2/`, {}, resolve).on('error', reject).end();
    }), /self-signed|unable to verify|certificate/);
    assert.ok(existsSync(`${reg.certDir}/ca.crt`));
  } finally {
    await reg.stop();
  }
});
