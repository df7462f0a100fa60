import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeScopes, parseChallenges, repositoryScope } from '../../../src/oci/http/auth.ts';
import { backoffDelay, DEFAULT_RETRY } from '../../../src/oci/http/transport.ts';
import { fallbackTag } from '../../../src/oci/http/referrers.ts';
import { nextLink } from '../../../src/oci/http-registry.ts';
import { errorFor } from '../../../src/oci/http/errors.ts';

test('parses a Bearer challenge with quoted params, including escapes and commas in scope', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.example.com/token', service: 'registry.example.com', scope: 'repository:a/b:pull,push' } },
  ]);
  assert.deepEqual(parseChallenges('Bearer realm="x",error="insufficient_scope",scope="repository:a:push"')[0]?.params.error, 'insufficient_scope');
  assert.deepEqual(parseChallenges('Basic realm="say \\"hi\\""'), [{ scheme: 'basic', params: { realm: 'say "hi"' } }]);
});

test('parses several challenges in one header', () => {
  const c = parseChallenges('Basic realm="r1", Bearer realm="https://t/token", service=svc');
  assert.deepEqual(c.map((x) => x.scheme), ['basic', 'bearer']);
  assert.deepEqual(c[1]?.params, { realm: 'https://t/token', service: 'svc' });
});

test('scopes: pull vs push, merged per resource', () => {
  assert.equal(repositoryScope('acme/web', 'pull'), 'repository:acme/web:pull');
  assert.equal(repositoryScope('acme/web', 'push'), 'repository:acme/web:pull,push');
  assert.deepEqual(mergeScopes(['repository:a:push,pull', 'repository:a:pull', 'repository:b:pull']), ['repository:a:pull,push', 'repository:b:pull']);
});

test('backoff: full jitter under an exponential ceiling; Retry-After in seconds or as a date', () => {
  for (let n = 1; n <= 8; n++) {
    const d = backoffDelay(n, DEFAULT_RETRY);
    assert.ok(d >= 0 && d <= Math.min(DEFAULT_RETRY.maxDelayMs, DEFAULT_RETRY.baseDelayMs * 2 ** (n - 1)));
  }
  assert.equal(backoffDelay(1, DEFAULT_RETRY, '3'), 3000);
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(backoffDelay(1, DEFAULT_RETRY, 'Thu, 01 Jan 2026 00:00:02 GMT', now), 2000);
  assert.equal(backoffDelay(1, DEFAULT_RETRY, '3600'), 30_000);
});

test('Link rel="next" pagination is resolved against the request URL', () => {
  assert.equal(nextLink('</v2/a/tags/list?last=x&n=2>; rel="next"', 'https://r.example.com/v2/a/tags/list'), 'https://r.example.com/v2/a/tags/list?last=x&n=2');
  assert.equal(nextLink(undefined, 'https://r/'), undefined);
  assert.equal(nextLink('<https://r/other>; rel="prev"', 'https://r/'), undefined);
});

test('referrers fallback tag is <alg>-<hex>', () => {
  assert.equal(fallbackTag(`sha256:${'ab'.repeat(32)}`), `sha256-${'ab'.repeat(32)}`);
  assert.equal(fallbackTag(`sha512:${'c'.repeat(128)}`), `sha512-${'c'.repeat(64)}`);
});

test('distribution error codes map to stable codes with a hint (in-process data)', () => {
  const ctx = { action: 'pushing manifest v1', name: 'r.example.com/acme/web' };
  const cases: Array<[number, string, string]> = [
    [404, 'NAME_UNKNOWN', 'REPOSITORY_NOT_FOUND'],
    [404, 'MANIFEST_UNKNOWN', 'MANIFEST_NOT_FOUND'],
    [404, 'BLOB_UNKNOWN', 'BLOB_NOT_FOUND'],
    [400, 'MANIFEST_BLOB_UNKNOWN', 'BLOB_NOT_FOUND'],
    [400, 'MANIFEST_INVALID', 'MANIFEST_INVALID'],
    [400, 'DIGEST_INVALID', 'DIGEST_INVALID'],
    [403, 'DENIED', 'REGISTRY_DENIED'],
    [405, 'UNSUPPORTED', 'REGISTRY_UNSUPPORTED'],
    [503, 'UNAVAILABLE', 'REGISTRY_ERROR'],
  ];
  for (const [status, code, expected] of cases) {
    const e = errorFor(status, [{ code, message: 'm' }], '', ctx);
    assert.equal(e.code, expected, code);
    assert.ok(e.hint && e.message.includes('acme/web'), code);
  }
  assert.equal(errorFor(400, [{ code: 'MANIFEST_INVALID', message: 'manifest invalid', detail: 'http: request body too large' }], '{"errors":[{"detail":"http: request body too large"}]}', ctx).code, 'MANIFEST_TOO_LARGE');
  assert.equal(errorFor(400, [], 'Client sent an HTTP request to an HTTPS server.', ctx).code, 'REGISTRY_TLS');
});
